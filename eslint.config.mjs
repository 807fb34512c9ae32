import nx from '@nx/eslint-plugin';

/**
 * Module boundaries are enforced, not decorative:
 * - apps never import apps (Nx forbids importing an app project outright);
 * - `type:contracts` imports nothing of ours;
 * - cloud code (`scope:cloud`) can never reach connector-side code (`scope:edge`), so tenant keys and
 *   decryption stay on the customer's side, and the connector cannot reach the database.
 */
const TEST_FILES = [
  '**/*.spec.ts',
  '**/*.integration-spec.ts',
  '**/*.e2e-spec.ts',
  '**/*.faults-spec.ts',
  '**/__tests__/**',
];

/** Which library types each type may import. Tests may also use the harness (`type:testing`). */
function boundaries(inTests) {
  const extra = inTests ? ['type:testing'] : [];
  const may = (...tags) => [...tags, ...extra];
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints: [
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: inTests ? ['type:testing'] : ['type:none'] },
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: may('type:contracts', 'type:util') },
        { sourceTag: 'type:domain', onlyDependOnLibsWithTags: may('type:contracts', 'type:util', 'type:domain') },
        {
          sourceTag: 'type:data-access',
          onlyDependOnLibsWithTags: may('type:contracts', 'type:util', 'type:domain', 'type:data-access'),
        },
        {
          sourceTag: 'type:testing',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:domain', 'type:data-access', 'type:testing'],
        },
        {
          sourceTag: 'type:runtime',
          onlyDependOnLibsWithTags: may('type:contracts', 'type:util', 'type:domain', 'type:data-access'),
        },
        {
          sourceTag: 'type:app',
          onlyDependOnLibsWithTags: may(
            'type:contracts',
            'type:util',
            'type:domain',
            'type:data-access',
            'type:runtime',
          ),
        },
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        { sourceTag: 'scope:cloud', onlyDependOnLibsWithTags: ['scope:shared', 'scope:cloud'] },
        { sourceTag: 'scope:edge', onlyDependOnLibsWithTags: ['scope:shared', 'scope:edge'] },
      ],
    },
  ];
}

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/node_modules', '**/dist', 'tmp/**', '.nx/**', 'libs/db/src/generated/**', 'coverage/**'],
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    rules: { '@nx/enforce-module-boundaries': boundaries(false) },
  },
  {
    files: TEST_FILES,
    rules: {
      '@nx/enforce-module-boundaries': boundaries(true),
      // Tests state what they expect to exist; a failed expectation fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The test harness starts real services; production code must never pull it in.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: [...TEST_FILES, 'libs/testing/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@mlr/testing', message: 'test harness: tests only' }] }],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: [
      '**/cli/**/*.ts',
      'deploy/**/*.ts',
      'scripts/**/*.ts',
      'apps/connector/src/cli/**/*.ts',
      '**/bench/**/*.ts',
    ],
    rules: { 'no-console': 'off' },
  },
];
