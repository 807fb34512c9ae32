import 'reflect-metadata';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { build, isShippedSource, shippedSources } from './build.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('what ships', () => {
  it('leaves tests, fixtures and benchmarks out', () => {
    expect(isShippedSource('apps/gateway/src/main.ts')).toBe(true);
    expect(isShippedSource('libs/db/src/cli/migrate.ts')).toBe(true);
    for (const path of [
      'apps/gateway/src/auth/token-verifier.spec.ts',
      'libs/db/src/migrations.integration-spec.ts',
      'apps/connector/src/x.e2e-spec.ts',
      'apps/gateway/src/__tests__/helpers.ts',
      'libs/mime/test/corpus.ts',
      'libs/crypto/bench/crypto.bench.ts',
      'libs/db/src/types.d.ts',
      'prisma/prisma.config.json',
    ]) {
      expect(isShippedSource(path), path).toBe(false);
    }
  });

  it('is every app, every library but the test harness, the generated Prisma client and the migrations CLI', () => {
    const sources = shippedSources(REPO_ROOT);
    for (const app of ['licensing', 'scheduling', 'indexing', 'storage', 'gateway', 'connector']) {
      expect(sources).toContain(`apps/${app}/src/main.ts`);
    }
    expect(sources).toContain('libs/db/src/cli/migrate.ts');
    expect(sources).toContain('libs/db/src/generated/client.ts');
    expect(sources.filter((source) => source.startsWith('libs/testing/'))).toEqual([]);
    expect(sources.filter((source) => !isShippedSource(source))).toEqual([]);
  });
});

/** A repository in miniature: an app with a Nest-style injectable, a library behind an alias, a harness. */
function miniatureRepository(): string {
  const root = mkdtempSync(join(tmpdir(), 'mlr-build-'));
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'mini', version: '1.2.3', type: 'module' }),
    'tsconfig.base.json': JSON.stringify({
      compilerOptions: {
        paths: { '@mlr/greeting': ['libs/greeting/src/index.ts'], '@mlr/testing': ['libs/testing/src/index.ts'] },
      },
    }),
    'prisma/schema.prisma': 'datasource db { provider = "postgresql" }\n',
    'prisma/migrations/20260101_init/migration.sql': 'CREATE TABLE t (id int);\n',
    'libs/db/src/generated/client.ts': 'export const generated = true;\n',
    'libs/greeting/src/index.ts': 'export class Greeter { greet(name: string): string { return `hello ${name}`; } }\n',
    'libs/greeting/src/greeting.spec.ts': "import { it } from 'vitest';\nit('is a test', () => {});\n",
    'libs/testing/project.json': JSON.stringify({ tags: ['scope:shared', 'type:testing'] }),
    'libs/testing/src/index.ts': 'export const harness = true;\n',
    'apps/hello/src/main.ts': [
      "import { Greeter } from '@mlr/greeting';",
      "import { Inject } from './inject.js';",
      '',
      '@Inject()',
      'export class Service {',
      '  constructor(readonly greeter: Greeter, readonly label: string) {}',
      '}',
      '',
    ].join('\n'),
    'apps/hello/src/inject.ts': 'export const Inject = (): ClassDecorator => () => undefined;\n',
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  // Generated after the schema, as prisma/generate.sh would have done.
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(root, 'libs/db/src/generated/client.ts'), later, later);
  return root;
}

describe('build', () => {
  const root = miniatureRepository();
  const outDir = join(root, 'dist');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('compiles to ES modules that run with plain node: aliases resolved, decorator metadata emitted', async () => {
    const result = await build({ root, outDir });
    expect(result.errors).toEqual([]);
    const main = readFileSync(join(outDir, 'apps/hello/src/main.js'), 'utf8');
    expect(main).toContain('from "../../../libs/greeting/src/index.js"');
    expect(main).toContain('//# sourceMappingURL=main.js.map');
    const map = JSON.parse(readFileSync(join(outDir, 'apps/hello/src/main.js.map'), 'utf8')) as { sources: string[] };
    expect(map.sources).toEqual(['../../../../apps/hello/src/main.ts']);

    const { Service } = (await import(pathToFileURL(join(outDir, 'apps/hello/src/main.js')).href)) as {
      Service: new (...args: unknown[]) => unknown;
    };
    const { Greeter } = (await import(pathToFileURL(join(outDir, 'libs/greeting/src/index.js')).href)) as {
      Greeter: unknown;
    };
    // What Nest's injector reads to know what to inject.
    expect(Reflect.getMetadata('design:paramtypes', Service)).toEqual([Greeter, String]);
    expect(Service.name).toBe('Service');
  });

  it('ships no tests and no harness, and copies what the migration engine and the connector read', () => {
    expect(existsSync(join(outDir, 'libs/greeting/src/greeting.spec.js'))).toBe(false);
    expect(existsSync(join(outDir, 'libs/testing'))).toBe(false);
    expect(existsSync(join(outDir, 'libs/db/src/generated/client.js'))).toBe(true);
    expect(readFileSync(join(outDir, 'prisma/migrations/20260101_init/migration.sql'), 'utf8')).toContain('CREATE');
    expect(existsSync(join(outDir, 'prisma/schema.prisma'))).toBe(true);
    expect(JSON.parse(readFileSync(join(outDir, 'package.json'), 'utf8'))).toEqual({
      name: 'mini',
      version: '1.2.3',
      private: true,
      type: 'module',
    });
  });

  it('compiles again only what changed, and removes what has gone', async () => {
    expect((await build({ root, outDir })).built).toEqual([]);

    writeFileSync(join(root, 'apps/hello/src/extra.ts'), 'export const extra: number = 1;\n');
    writeFileSync(join(root, 'libs/greeting/src/index.ts'), 'export class Greeter {}\n');
    const changed = await build({ root, outDir });
    expect(changed.built.sort()).toEqual(['apps/hello/src/extra.ts', 'libs/greeting/src/index.ts']);

    rmSync(join(root, 'apps/hello/src/extra.ts'));
    const removed = await build({ root, outDir });
    expect(removed).toMatchObject({ built: [], removed: ['apps/hello/src/extra.ts'] });
    expect(existsSync(join(outDir, 'apps/hello/src/extra.js'))).toBe(false);
    expect(existsSync(join(outDir, 'apps/hello/src/extra.js.map'))).toBe(false);
  });

  it('fails on a file that does not compile, and leaves no stale output of it behind', async () => {
    writeFileSync(join(root, 'apps/hello/src/inject.ts'), 'export const Inject = ;\n');
    const failed = await build({ root, outDir });
    expect(failed.errors.map((error) => error.file)).toEqual(['apps/hello/src/inject.ts']);
    expect(failed.errors[0]?.message).toMatch(/Expression expected/);
    expect(existsSync(join(outDir, 'apps/hello/src/inject.js'))).toBe(false);
  });
});
