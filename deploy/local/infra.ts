// Starts, stops and describes the local infrastructure (PostgreSQL, NATS, Ceph S3, Dovecot).
// State lives in tmp/local (or --dir); running `up` twice reuses what is already running.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  MIGRATE_COMMAND,
  PLATFORM_SERVICES,
  REPO_ROOT,
  envFor,
  migrationEnv,
  ensureBuilt,
  readInfrastructure,
  startInfrastructure,
  type LocalInfrastructure,
  type PlatformService,
} from '@mlr/testing';

export const DEFAULT_LOCAL_DIR = join(REPO_ROOT, 'tmp', 'local');

/**
 * Applies the migrations with the compiled command the chart's migrations Job runs, and gives each
 * service its own role (granted its own tables only).
 */
export function migrate(postgres: NonNullable<LocalInfrastructure['postgres']>): void {
  ensureBuilt();
  execFileSync(process.execPath, MIGRATE_COMMAND.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...migrationEnv(postgres) },
    stdio: 'inherit',
  });
}

/** How the infrastructure recorded in `infra.json` was started, to reach it again without a refusal. */
export function recordedSettings(infra: LocalInfrastructure): { dir: string; durable: boolean; s3OpsLog: boolean } {
  // infra.json files written before durability was recorded are memstore without an ops log.
  return { dir: infra.dir, durable: infra.durable ?? false, s3OpsLog: infra.s3?.opsLog !== undefined };
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: DEFAULT_LOCAL_DIR },
      /** Crash-safe PostgreSQL and Ceph on BlueStore, whose objects survive `down` and `up`. */
      durable: { type: 'boolean', default: false },
      /** `env`: only what this service receives (its own secrets, not the others'). */
      service: { type: 'string' },
    },
  });
  const dir = values.dir ?? DEFAULT_LOCAL_DIR;
  switch (positionals[0]) {
    case 'up': {
      const { infra } = await startInfrastructure({ dir, durable: values.durable });
      if (infra.postgres) migrate(infra.postgres);
      console.log(
        `local infrastructure is up (state in ${dir}, ${infra.durable ? 'durable: objects survive infra:down' : 'S3 on memstore: objects are lost at infra:down'}); the environment of one service: npm run infra:env -- --service <${PLATFORM_SERVICES.join('|')}>`,
      );
      break;
    }
    case 'down': {
      const running = readInfrastructure(dir);
      if (!running) {
        console.log(`nothing to stop in ${dir}`);
        break;
      }
      // Every launcher reuses a live instance for the same directory (asked with the settings it was
      // started with, or it refuses); its handle stops it by PID.
      const { stop } = await startInfrastructure(recordedSettings(running));
      await stop();
      console.log('local infrastructure stopped');
      break;
    }
    case 'env': {
      const infra = readInfrastructure(dir);
      if (!infra) throw new Error(`no local infrastructure in ${dir}: run npm run infra:up`);
      const service = values.service;
      if (service === undefined || !(PLATFORM_SERVICES as readonly string[]).includes(service)) {
        throw new Error(
          `say whose environment: --service ${PLATFORM_SERVICES.join('|')} (each service receives only its own secrets)`,
        );
      }
      for (const [key, value] of Object.entries(envFor(service as PlatformService, infra.serviceEnv)))
        console.log(`export ${key}=${JSON.stringify(value)}`);
      break;
    }
    default:
      console.error('usage: infra.ts up [--durable] | down | env --service NAME [--dir DIR]');
      process.exitCode = 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
