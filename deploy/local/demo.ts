// `npm run demo`: the whole platform on this machine. Starts the infrastructure, applies the
// migrations, starts every service as its own process, waits until each reports healthy and prints
// where everything is. Ctrl-C (or --once) stops it all again.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PLATFORM_SERVICES, fetchHealth, startApp, startInfrastructure, type RunningApp } from '@mlr/testing';
import { DEFAULT_LOCAL_DIR, migrate } from './infra.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: DEFAULT_LOCAL_DIR },
      once: { type: 'boolean', default: false },
      'keep-infra': { type: 'boolean', default: false },
    },
  });
  const dir = values.dir ?? DEFAULT_LOCAL_DIR;
  console.log(`starting PostgreSQL, NATS, Ceph S3 and Dovecot (state in ${dir}) ...`);
  const { infra, stop: stopInfra } = await startInfrastructure({ dir });
  if (infra.postgres) migrate(infra.postgres.databaseUrl);

  const apps: RunningApp[] = [];
  const shutdown = async () => {
    console.log('stopping services ...');
    await Promise.allSettled(apps.map((app) => app.stop()));
    if (!values['keep-infra']) {
      console.log('stopping infrastructure ...');
      await stopInfra();
    }
  };
  try {
    // Backend services first: the gateway is healthy only when they answer.
    for (const service of PLATFORM_SERVICES) {
      apps.push(await startApp({ app: service, env: infra.serviceEnv, logDir: join(dir, 'logs') }));
      console.log(`  ${service.padEnd(10)} healthy   http://127.0.0.1:${apps.at(-1)?.port}/health`);
    }
  } catch (error) {
    await shutdown();
    throw error;
  }

  console.log('\nMLR is running:');
  console.log(`  gateway      http://127.0.0.1:${apps.find((a) => a.name === 'gateway')?.port}`);
  console.log(`  PostgreSQL   ${infra.postgres?.databaseUrl}`);
  console.log(`  NATS         ${infra.nats?.url} (monitoring http://127.0.0.1:${infra.nats?.monitorPort})`);
  console.log(`  S3 (Ceph)    ${infra.s3?.endpoint} bucket ${infra.s3?.bucket}`);
  console.log(
    `  IMAP         ${infra.imap?.host}:${infra.imap?.port} users ${infra.imap?.users.map((u) => u.name).join(', ')}`,
  );
  console.log(`  logs         ${join(dir, 'logs')}`);
  const gateway = apps.find((a) => a.name === 'gateway');
  if (gateway) console.log(`\ngateway health: ${JSON.stringify((await fetchHealth(gateway.port)).body?.checks)}`);

  if (!values.once) {
    console.log('\nPress Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await shutdown();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
