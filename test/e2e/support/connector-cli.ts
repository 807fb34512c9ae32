import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, compiledMain, ensureBuilt } from '@mlr/testing';

/** Runs the compiled connector's command line as an operator would, and collects what it printed. */
export function runConnectorCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  ensureBuilt();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [compiledMain('connector'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

/**
 * Writes a connector configuration as the customer writes it before enrolment (mail source, the
 * platform's NATS address, a state directory) to `<dir>/<name>/connector.json`; returns its path.
 */
export function writePreEnrolmentConfig(
  dir: string,
  name: string,
  natsUrl: string,
  source: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): string {
  const home = join(dir, name);
  mkdirSync(home, { recursive: true });
  const path = join(home, 'connector.json');
  const config = { nats: { url: natsUrl }, source, stateDir: join(home, 'state'), logLevel: 'warn', ...extra };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** `connector enroll` of the configuration at `configPath` with `token`, through the gateway at `gatewayUrl`. */
export function enrollArgs(gatewayUrl: string, configPath: string, token: string, ...extra: string[]): string[] {
  return ['enroll', '--config', configPath, '--gateway', gatewayUrl, '--enrolment-token', token, ...extra];
}
