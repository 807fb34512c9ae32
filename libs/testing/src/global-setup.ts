import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { MIGRATE_COMMAND, ensureBuilt } from './compiled.js';
import { migrationEnv, startInfrastructure, type LocalInfrastructure } from './infra/local-infrastructure.js';
import { REPO_ROOT } from './paths.js';

const execFileAsync = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    infra: LocalInfrastructure;
  }
}

/**
 * Integration and end-to-end tiers: build the apps (the tests run them compiled, as they ship), start
 * real PostgreSQL, NATS, Ceph S3 and Dovecot once, apply the migrations (and the services' roles) with
 * the compiled migrations command the chart runs, hand the addresses to the tests, stop it all after.
 * Set MLR_KEEP_INFRA=1 to leave the services running for inspection.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureBuilt();
  const tmpRoot = join(REPO_ROOT, 'tmp');
  const dir = mkdtempSync(join(tmpRoot, `infra-${project.name}-`));
  const started = await startInfrastructure({ dir });
  const postgres = started.infra.postgres;
  if (postgres) {
    // As the owner role; also gives each service its own role, granted its own tables only.
    await execFileAsync(process.execPath, MIGRATE_COMMAND.slice(1), {
      cwd: REPO_ROOT,
      env: { ...process.env, ...migrationEnv(postgres) },
    }).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`migrations failed: ${error.stderr || error.message}`);
    });
  }
  project.provide('infra', started.infra);
  return async () => {
    if (process.env['MLR_KEEP_INFRA'] === '1') return;
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
