// Starts, stops and describes the local infrastructure (PostgreSQL, NATS, Ceph S3, Dovecot).
// State lives in tmp/local (or --dir); running `up` twice reuses what is already running.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MIGRATE_COMMAND, REPO_ROOT, ensureBuilt, readInfrastructure, startInfrastructure } from '@mlr/testing';

export const DEFAULT_LOCAL_DIR = join(REPO_ROOT, 'tmp', 'local');

/** Applies the migrations with the compiled command the chart's migrations Job runs. */
export function migrate(databaseUrl: string): void {
  ensureBuilt();
  execFileSync(process.execPath, MIGRATE_COMMAND.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'inherit',
  });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string', default: DEFAULT_LOCAL_DIR } },
  });
  const dir = values.dir ?? DEFAULT_LOCAL_DIR;
  switch (positionals[0]) {
    case 'up': {
      const { infra } = await startInfrastructure({ dir });
      if (infra.postgres) migrate(infra.postgres.databaseUrl);
      console.log(`local infrastructure is up (state in ${dir}); environment for the services:`);
      for (const [key, value] of Object.entries(infra.serviceEnv))
        console.log(`export ${key}=${JSON.stringify(value)}`);
      break;
    }
    case 'down': {
      if (!readInfrastructure(dir)) {
        console.log(`nothing to stop in ${dir}`);
        break;
      }
      // Every launcher reuses a live instance for the same directory; its handle stops it by PID.
      const { stop } = await startInfrastructure({ dir });
      await stop();
      console.log('local infrastructure stopped');
      break;
    }
    case 'env': {
      const infra = readInfrastructure(dir);
      if (!infra) throw new Error(`no local infrastructure in ${dir}: run npm run infra:up`);
      for (const [key, value] of Object.entries(infra.serviceEnv))
        console.log(`export ${key}=${JSON.stringify(value)}`);
      break;
    }
    default:
      console.error('usage: infra.ts up|down|env [--dir DIR]');
      process.exitCode = 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
