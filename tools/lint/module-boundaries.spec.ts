import { execFileSync } from 'node:child_process';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

/** Lints `code` as if it were the file at `filePath`, with the project's real ESLint config. */
async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries are enforced by lint', () => {
  beforeAll(() => {
    // The boundary rule reads Nx's project graph (projects and their tags); build it first.
    execFileSync('npx', ['nx', 'show', 'projects'], {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: 'ignore',
    });
  }, 120_000);

  it('refuses an app importing another app', async () => {
    const messages = await lintAs(
      'apps/gateway/src/lint-fixture.ts',
      `import { StorageModule } from '../../storage/src/storage.module.js';\nexport const x = StorageModule;\n`,
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('refuses contracts importing any other library of ours', async () => {
    const messages = await lintAs(
      'libs/contracts/src/lint-fixture.ts',
      `import { connectMessaging } from '@mlr/messaging';\nexport const x = connectMessaging;\n`,
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('keeps the connector (customer side) away from the cloud database', async () => {
    const messages = await lintAs(
      'apps/connector/src/lint-fixture.ts',
      `import { createPrismaClient } from '@mlr/db';\nexport const x = createPrismaClient;\n`,
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('keeps the test harness out of production code', async () => {
    const messages = await lintAs(
      'apps/storage/src/lint-fixture.ts',
      `import { startInfrastructure } from '@mlr/testing';\nexport const x = startInfrastructure;\n`,
    );
    expect(messages.join('\n')).toMatch(/no-restricted-imports/);
  });

  it('allows an app to use the contracts', async () => {
    const messages = await lintAs(
      'apps/gateway/src/lint-fixture.ts',
      `import { subjects } from '@mlr/contracts';\nexport const x = subjects;\n`,
    );
    expect(messages).toEqual([]);
  });
});
