import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** Where `npm run build` puts the compiled apps and libraries (tools/build/build.ts). */
export const DIST_DIR = join(REPO_ROOT, 'dist');

/** The compiled entry point of an app, relative to the repository (and to /app in the image). */
export function compiledMain(app: string): string {
  return `dist/apps/${app}/src/main.js`;
}

/**
 * Node flags of the cloud services and the migrations, in the image (the Dockerfile's CMD, the
 * chart's commands) as here. Prisma's query compiler is WebAssembly; when V8 tiers it up to
 * TurboFan, the compilation alone mallocs ~60-80 MiB, which then stays in the process's memory
 * (peak RSS ~260-270 MiB instead of ~190 MiB for an idle service on Node 22). Liftoff's baseline
 * code costs no measurable CPU in a backup. A young generation of 4 MiB semi-spaces (instead of
 * V8's 16) keeps another ~25 MiB out of each process (storage peaks at ~230 MiB instead of ~255 MiB
 * during a backup) for no measurable CPU either: the services keep few short-lived objects. And
 * the old generation grows by half at most between full collections instead of up to 4x: the
 * garbage of a long backup (decoded batches, records, pack pieces) otherwise waits in the heap for
 * a lazy collection, and storage and indexing peaked at 260-270 MiB with 20,000 × 10 KiB instead of
 * ~200 and ~170 MiB (storage pays ~15% more CPU for it). The connector is left alone here: it
 * compresses every message with zstd compiled to WebAssembly, and it sets its heap growth itself
 * (apps/connector/src/main.ts), since customers start it in their own ways.
 */
export const CLOUD_NODE_FLAGS = [
  '--no-wasm-dynamic-tiering',
  '--no-wasm-tier-up',
  '--max-semi-space-size=4',
  '--heap-growing-percent=50',
] as const;

/**
 * The environment the image gives every process (the Dockerfile's ENV): glibc's malloc with two
 * arenas and a fixed mmap threshold. A service handles buffers of hundreds of KiB to MiBs (commit
 * batches, packs); with glibc's defaults the freed ones stay in per-thread arenas and the raised
 * mmap threshold, and storage's resident memory creeps ~25 MiB higher over a long backup.
 */
export const CLOUD_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' } as const;

/** A cloud service's or the migrations' command line as the image runs it (`node` first). */
export function cloudCommand(entry: string, ...args: string[]): string[] {
  return ['node', ...CLOUD_NODE_FLAGS, entry, ...args];
}

/** An app's command line: the cloud services' as in the image, the connector's plain. */
export function appCommand(app: string): string[] {
  return app === 'connector' ? ['node', compiledMain(app)] : cloudCommand(compiledMain(app));
}

/** The compiled migrations command, as the chart's migrations Job runs it. */
export const MIGRATE_COMMAND = cloudCommand('dist/libs/db/src/cli/migrate.js', 'deploy');
/** Sets the backup bucket up with its owner's key (the chart's bucket set-up Job runs the same). */
export const SETUP_BUCKET_COMMAND = cloudCommand('dist/apps/storage/src/cli/setup-bucket.js');

/**
 * Set once dist/ has been brought up to date. Inherited by child processes (vitest's workers fork
 * after the global setup has built), so a test run builds once, not once per test file.
 */
const BUILT_MARKER = 'MLR_BUILT_DIST';

/**
 * Brings dist/ up to date with the sources, once per process tree: apps run compiled, as they ship,
 * and never from a stale build. `npm run build` is incremental, so when nothing changed this only
 * costs reading the sources (about a second with npm's own start).
 */
export function ensureBuilt(): void {
  if (process.env[BUILT_MARKER] === DIST_DIR) return;
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm run build failed: ${failed.stderr || failed.stdout || failed.message}`, { cause: error });
  }
  process.env[BUILT_MARKER] = DIST_DIR;
}
