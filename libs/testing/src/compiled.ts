import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** Where `npm run build` puts the compiled apps and libraries (tools/build/build.ts). */
export const DIST_DIR = join(REPO_ROOT, 'dist');

/** The compiled entry point of an app, relative to the repository (and to /app in the image). */
export function compiledMain(app: string): string {
  return `dist/apps/${app}/src/main.js`;
}

/** The compiled migrations command, as the chart's migrations Job runs it (with `deploy`). */
export const COMPILED_MIGRATE = 'dist/libs/db/src/cli/migrate.js';

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
