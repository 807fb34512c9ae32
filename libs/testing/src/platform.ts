import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { appCommand, CLOUD_ENV, ensureBuilt } from './compiled.js';
import { freePort, isAlive, stopPid, tailLog, waitFor } from './infra/process.js';
import { REPO_ROOT } from './paths.js';
import { envFor, type PlatformService } from './service-env.js';

export interface RunningApp {
  name: string;
  pid: number;
  port: number;
  logFile: string;
  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

export interface HealthAnswer {
  status: number;
  body: { status?: string; checks?: Record<string, { ok: boolean; detail?: string }> } | undefined;
}

export async function fetchHealth(port: number): Promise<HealthAnswer> {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  let body: HealthAnswer['body'];
  try {
    body = JSON.parse(text) as HealthAnswer['body'];
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** What `startProcess` runs, and how. */
export interface StartProcessOptions {
  /** For messages and the log file's name. */
  name: string;
  /** The executable and its arguments; `node` is this process's own Node. */
  command: string[];
  /** Working directory (default: the repository). */
  cwd?: string;
  env: Record<string, string>;
  logDir: string;
  /** The process's HTTP (health) port; chosen here when not given, and passed as HTTP_PORT. */
  port?: number;
  waitHealthy?: boolean;
}

/**
 * Runs one of the platform's apps as its own process, compiled and with the command line it ships
 * with (`appCommand`: `node [flags] dist/apps/<app>/src/main.js`, see tools/build/build.ts; dist/ is
 * brought up to date first), with `env` on top of a minimal environment, its HTTP port chosen here,
 * and waits until `/health` answers 200.
 */
export async function startApp(options: {
  app: PlatformService | 'connector';
  /** Extra command-line arguments (the connector's `run --config <file>`). */
  args?: string[];
  env: Record<string, string>;
  logDir: string;
  /** The app's HTTP (health) port when the app does not take it from HTTP_PORT. */
  port?: number;
  waitHealthy?: boolean;
}): Promise<RunningApp> {
  ensureBuilt();
  return startProcess({
    name: options.app,
    command: [...appCommand(options.app), ...(options.args ?? [])],
    // The cloud services get the image's environment and only their own secrets; the connector runs
    // on the customer's side and gets what it is given.
    env: options.app === 'connector' ? options.env : { ...CLOUD_ENV, ...envFor(options.app, options.env) },
    logDir: options.logDir,
    port: options.port,
    waitHealthy: options.waitHealthy,
  });
}

/**
 * Runs `command` (a service's command line, e.g. as the chart or the Dockerfile give it) detached,
 * its output appended to `<logDir>/<name>.log`, and waits until `/health` on its port answers 200.
 */
export async function startProcess(options: StartProcessOptions): Promise<RunningApp> {
  const port = options.port ?? (await freePort());
  const logFile = join(options.logDir, `${options.name}.log`);
  mkdirSync(options.logDir, { recursive: true });
  const fd = openSync(logFile, 'a');
  const [executable, ...args] = options.command;
  if (executable === undefined) throw new Error(`${options.name}: no command given`);
  const child = spawn(executable === 'node' ? process.execPath : executable, args, {
    cwd: options.cwd ?? REPO_ROOT,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? '/tmp',
      ...options.env,
      HTTP_PORT: String(port),
      INSTANCE_ID: `${options.name}-${port}`,
    },
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  const name = options.name;
  if (pid === undefined) throw new Error(`could not start ${name}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const app: RunningApp = {
    name,
    pid,
    port,
    logFile,
    exited,
    stop: (graceMs = 10_000) => stopPid(pid, graceMs),
    kill: async () => {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await waitFor(() => !isAlive(pid), { what: `${name} to die`, timeoutMs: 5_000 });
    },
  };
  if (options.waitHealthy ?? true) {
    try {
      await waitFor(
        async () => {
          if (!isAlive(pid)) throw new Error(`${name} exited`);
          return (await fetchHealth(port)).status === 200;
        },
        { what: `${name} to report healthy on port ${port}`, timeoutMs: 60_000, intervalMs: 200 },
      );
    } catch (error) {
      await app.stop(2_000);
      throw new Error(`${(error as Error).message}\n--- ${logFile} ---\n${tailLog(logFile, 30)}`);
    }
  }
  return app;
}
