import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// NestJS needs decorator metadata, which esbuild does not emit: SWC compiles the sources instead.
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias: [{ find: /^@mlr\/([a-z-]+)$/, replacement: `${root}libs/$1/src/index.ts` }] },
};
const exclude = ['**/node_modules/**', 'tmp/**', 'dist/**'];

export default defineConfig({
  test: {
    // Two cores: the real services need their share of them.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          // Generous: CI shares two cores with everything else; no test asserts timing.
          testTimeout: 60_000,
          include: [
            'apps/**/*.spec.ts',
            'libs/**/*.spec.ts',
            'deploy/**/*.spec.ts',
            'tools/**/*.spec.ts',
            'charts/**/*.spec.ts',
          ],
          exclude,
        },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: [
            'apps/**/*.integration-spec.ts',
            'libs/**/*.integration-spec.ts',
            'deploy/**/*.integration-spec.ts',
          ],
          exclude,
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One file at a time: files share the infrastructure, and several start services that
          // consume the same durable consumers (a second storage process would take the first's work).
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['apps/**/*.e2e-spec.ts', 'test/**/*.e2e-spec.ts'],
          exclude,
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        ...shared,
        test: {
          // Faults injected into the infrastructure every service shares (a NATS restart, ...):
          // infrastructure of their own, one file at a time (`npm run test:faults`).
          name: 'faults',
          include: ['test/faults/**/*.faults-spec.ts'],
          exclude,
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 900_000,
          hookTimeout: 300_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
