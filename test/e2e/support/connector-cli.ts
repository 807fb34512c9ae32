import { spawn } from 'node:child_process';
import { REPO_ROOT } from '@mlr/testing';

/** Runs the connector's command line as an operator would, and collects what it printed. */
export function runConnectorCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', 'apps/connector/src/main.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}
