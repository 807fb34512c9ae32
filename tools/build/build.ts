/*
 * `npm run build`: compiles what ships to JavaScript in dist/, laid out like the repository, so that
 * `node dist/apps/<app>/src/main.js` and `node dist/libs/db/src/cli/migrate.js deploy` run with no
 * loader and no TypeScript compilation at process start:
 *
 *   dist/apps/<app>/src/      every app present (the cloud image's build context has no connector)
 *   dist/libs/<lib>/src/      every library but the test harness (tagged type:testing), with the
 *                             generated Prisma client and the migrations CLI (libs/db/src/cli)
 *   dist/prisma/              schema.prisma and migrations/: the migration engine finds them
 *                             relative to its own file, as it does in the repository
 *   dist/package.json         "type": "module", and the version the connector reports at enrolment
 *
 * SWC compiles each file on its own (type checking is `npm run typecheck`'s job) with what
 * tsconfig.base.json means at run time: legacy decorators with their metadata (Nest's dependency
 * injection reads constructor parameter types from it, which esbuild does not emit), ES2022 class
 * fields, class names kept (Nest names providers and loggers after them), and the `@mlr/*` aliases
 * rewritten to relative paths. Tests are left out. Source maps sit beside each file.
 *
 * Incremental: a file is compiled again only when its content or the compiler settings changed;
 * outputs whose source has gone are removed. dist/.build-manifest.json records what came from what.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform, version as swcVersion, type Options } from '@swc/core';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MANIFEST = '.build-manifest.json';
const GENERATED_CLIENT = 'libs/db/src/generated/client.ts';
/** Files that never ship, wherever they are. */
const TEST_FILE = /(\.spec|\.integration-spec|\.e2e-spec)\.ts$|\.d\.ts$/;
const TEST_DIRECTORIES = new Set(['__tests__', 'test', 'bench']);

/** One input of the build and the files made from it, relative to the repository and to dist/. */
interface ManifestEntry {
  hash: string;
  outputs: string[];
}

interface Manifest {
  settings: string;
  entries: Record<string, ManifestEntry>;
}

export interface BuildResult {
  outDir: string;
  inputs: number;
  built: string[];
  removed: string[];
  errors: Array<{ file: string; message: string }>;
  seconds: number;
}

const toPosix = (path: string) => path.split(sep).join('/');
const sha1 = (data: string | Buffer) => createHash('sha1').update(data).digest('hex');

/** Whether a TypeScript file under an app's or library's src/ ships (tests and fixtures do not). */
export function isShippedSource(path: string): boolean {
  if (!path.endsWith('.ts') || TEST_FILE.test(path)) return false;
  return !toPosix(path)
    .split('/')
    .some((part) => TEST_DIRECTORIES.has(part));
}

/** The tsconfig aliases (`@mlr/contracts` → `libs/contracts/src/index.ts`) in SWC's form. */
export function aliasPaths(root: string): Record<string, string[]> {
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')) as {
    compilerOptions: { paths: Record<string, string[]> };
  };
  return tsconfig.compilerOptions.paths;
}

/** The SWC settings for one file; everything but the file names goes into the settings hash. */
export function swcOptions(root: string, paths: Record<string, string[]>): Options {
  return {
    swcrc: false,
    configFile: false,
    sourceMaps: true,
    // The maps point at the sources by relative path; the image ships without them, and stack
    // traces need only the mappings.
    inlineSourcesContent: false,
    jsc: {
      parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
      target: 'es2022',
      keepClassNames: true,
      baseUrl: root,
      paths,
      experimental: { keepImportAttributes: true },
    },
    // resolveFully: an alias resolves to `.../index.ts`, which must be imported as `.../index.js`.
    module: { type: 'es6', resolveFully: true },
  };
}

/** Projects whose Nx tags include `type:testing` are the test harness and never ship. */
function isTestHarness(projectDir: string): boolean {
  const projectFile = join(projectDir, 'project.json');
  if (!existsSync(projectFile)) return false;
  const { tags = [] } = JSON.parse(readFileSync(projectFile, 'utf8')) as { tags?: string[] };
  return tags.includes('type:testing');
}

/** The TypeScript inputs, relative to the repository: apps' and libraries' src/ trees. */
export function shippedSources(root: string): string[] {
  const sources: string[] = [];
  for (const kind of ['apps', 'libs']) {
    const kindDir = join(root, kind);
    if (!existsSync(kindDir)) continue;
    for (const project of readdirSync(kindDir).sort()) {
      const projectDir = join(kindDir, project);
      const srcDir = join(projectDir, 'src');
      if (!existsSync(srcDir) || isTestHarness(projectDir)) continue;
      for (const file of readdirSync(srcDir, { recursive: true, encoding: 'utf8' })) {
        if (isShippedSource(file)) sources.push(toPosix(join(kind, project, 'src', file)));
      }
    }
  }
  return sources.sort();
}

/** Files copied as they are: what the migration engine reads at run time. */
function assets(root: string): string[] {
  const migrations = join(root, 'prisma', 'migrations');
  const files = ['prisma/schema.prisma'];
  if (existsSync(migrations)) {
    for (const file of readdirSync(migrations, { recursive: true, encoding: 'utf8' })) {
      if (statSync(join(migrations, file)).isFile()) files.push(toPosix(join('prisma', 'migrations', file)));
    }
  }
  return files.sort();
}

/** Writes through a temporary file, so that a process starting meanwhile never reads half a file. */
function writeAtomically(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

function readManifest(outDir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(outDir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** Regenerates the Prisma client when it is missing or older than the schema. */
function ensurePrismaClient(root: string): void {
  const client = join(root, GENERATED_CLIENT);
  const schema = join(root, 'prisma', 'schema.prisma');
  if (existsSync(client) && statSync(client).mtimeMs >= statSync(schema).mtimeMs) return;
  execFileSync('bash', [join(root, 'prisma', 'generate.sh')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function compile(root: string, outDir: string, source: string, code: string, options: Options) {
  const output = join(outDir, source.replace(/\.ts$/, '.js'));
  const result = await transform(code, {
    ...options,
    filename: join(root, source),
    sourceFileName: toPosix(relative(dirname(output), join(root, source))),
  });
  const mapName = `${basename(output)}.map`;
  writeAtomically(output, `${result.code}\n//# sourceMappingURL=${mapName}\n`);
  writeAtomically(`${output}.map`, result.map ?? '');
  return [relative(outDir, output), relative(outDir, `${output}.map`)].map(toPosix);
}

export async function build(options: { root?: string; outDir?: string } = {}): Promise<BuildResult> {
  const started = process.hrtime.bigint();
  const root = options.root ?? REPO_ROOT;
  const outDir = options.outDir ?? join(root, 'dist');
  ensurePrismaClient(root);
  const paths = aliasPaths(root);
  const swc = swcOptions(root, paths);
  // This file is part of the settings: a change in how outputs are written invalidates them too.
  const settings = sha1(
    JSON.stringify({
      swcVersion,
      swc: { ...swc, jsc: { ...swc.jsc, baseUrl: '.' } },
      builder: sha1(readFileSync(fileURLToPath(import.meta.url))),
    }),
  );

  let previous = readManifest(outDir);
  if (previous?.settings !== settings) {
    // Other settings (or no record of what is there): nothing in dist/ can be trusted.
    rmSync(outDir, { recursive: true, force: true });
    previous = undefined;
  }
  const entries: Record<string, ManifestEntry> = {};
  const result: BuildResult = { outDir, inputs: 0, built: [], removed: [], errors: [], seconds: 0 };
  const upToDate = (input: string, hash: string) => {
    const entry = previous?.entries[input];
    if (entry?.hash !== hash || !entry.outputs.every((output) => existsSync(join(outDir, output)))) return false;
    entries[input] = entry;
    return true;
  };

  const sources = shippedSources(root);
  const pending: Array<Promise<void>> = [];
  for (const source of sources) {
    const code = readFileSync(join(root, source), 'utf8');
    const hash = sha1(code);
    if (upToDate(source, hash)) continue;
    pending.push(
      compile(root, outDir, source, code, swc).then(
        (outputs) => {
          entries[source] = { hash, outputs };
          result.built.push(source);
        },
        (error: unknown) => {
          // SWC appends its own native stack trace, which says nothing about the source.
          const message = (error instanceof Error ? error.message : String(error)).split(/\n\s*Stack backtrace:/)[0];
          result.errors.push({ file: source, message: message?.trim() ?? '' });
        },
      ),
    );
  }
  await Promise.all(pending);

  for (const asset of assets(root)) {
    const content = readFileSync(join(root, asset));
    const hash = sha1(content);
    if (upToDate(asset, hash)) continue;
    writeAtomically(join(outDir, asset), content);
    entries[asset] = { hash, outputs: [asset] };
    result.built.push(asset);
  }

  const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const packageJson = `${JSON.stringify({ name, version, private: true, type: 'module' }, null, 2)}\n`;
  if (!upToDate('package.json', sha1(packageJson))) {
    writeAtomically(join(outDir, 'package.json'), packageJson);
    entries['package.json'] = { hash: sha1(packageJson), outputs: ['package.json'] };
    result.built.push('package.json');
  }

  const current = new Set(Object.values(entries).flatMap((entry) => entry.outputs));
  // Outputs of inputs that have gone, or that failed to compile: nothing stale may run.
  for (const [input, entry] of Object.entries(previous?.entries ?? {})) {
    if (entries[input]) continue;
    for (const output of entry.outputs) {
      if (!current.has(output)) rmSync(join(outDir, output), { force: true });
    }
    if (!result.errors.some((error) => error.file === input)) result.removed.push(input);
  }

  result.inputs = Object.keys(entries).length + result.errors.length;
  writeAtomically(join(outDir, MANIFEST), `${JSON.stringify({ settings, entries } satisfies Manifest)}\n`);
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // --quiet: only failures are printed (`npm run connector` builds first, and its stdout is the
  // connector's own, e.g. a --json summary).
  const quiet = process.argv.slice(2).includes('--quiet');
  build().then(
    (result) => {
      for (const error of result.errors) process.stderr.write(`build: ${error.file}: ${error.message}\n`);
      const summary =
        `build: ${result.inputs} inputs, ${result.built.length} compiled or copied, ${result.removed.length} removed, ` +
        `${result.errors.length} failed, in ${result.seconds.toFixed(1)} s -> ${relative(process.cwd(), result.outDir) || '.'}\n`;
      if (!quiet) process.stdout.write(summary);
      else if (result.errors.length > 0) process.stderr.write(summary);
      process.exitCode = result.errors.length > 0 ? 1 : 0;
    },
    (error: unknown) => {
      process.stderr.write(`build: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
