import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isAlive, stopPid, tailLog, waitFor } from './infra/process.js';
import { REPO_ROOT } from './paths.js';

export const PLATFORM_SERVICES = ['licensing', 'scheduling', 'indexing', 'storage', 'gateway'] as const;
export type PlatformService = (typeof PLATFORM_SERVICES)[number];

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

/**
 * Runs one of the platform's apps as its own process (as in production), with `env` on top of a
 * minimal environment, its HTTP port chosen here, and waits until `/health` answers 200.
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
  const port = options.port ?? (await freePort());
  const logFile = join(options.logDir, `${options.app}.log`);
  mkdirSync(options.logDir, { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['--import', '@swc-node/register/esm-register', `apps/${options.app}/src/main.ts`, ...(options.args ?? [])],
    {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: process.env['HOME'] ?? '/tmp',
        ...options.env,
        HTTP_PORT: String(port),
        INSTANCE_ID: `${options.app}-${port}`,
      },
    },
  );
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.app}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const app: RunningApp = {
    name: options.app,
    pid,
    port,
    logFile,
    exited,
    stop: (graceMs = 10_000) => stopPid(pid, graceMs),
    kill: async () => {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await waitFor(() => !isAlive(pid), { what: `${options.app} to die`, timeoutMs: 5_000 });
    },
  };
  if (options.waitHealthy ?? true) {
    try {
      await waitFor(
        async () => {
          if (!isAlive(pid)) throw new Error(`${options.app} exited`);
          return (await fetchHealth(port)).status === 200;
        },
        { what: `${options.app} to report healthy on port ${port}`, timeoutMs: 60_000, intervalMs: 200 },
      );
    } catch (error) {
      await app.stop(2_000);
      throw new Error(`${(error as Error).message}\n--- ${logFile} ---\n${tailLog(logFile, 30)}`);
    }
  }
  return app;
}
