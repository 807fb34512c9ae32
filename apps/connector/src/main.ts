import { parseArgs } from 'node:util';
import { createLogger } from '@mlr/telemetry';
import { ConnectorAgent } from './agent.js';
import { runBackupCommand } from './cli/backup-command.js';
import { ConnectorConfigError, keyFilePath, loadConnectorConfig } from './config/connector-config.js';
import { createTenantKeyFile, KeyFileError } from './keys/key-file.js';

const USAGE = `usage: connector <command> --config <file> [options]

commands:
  init-key   create the tenant key (once, on the customer's side; keep a recovery copy safe)
  run        run the agent until SIGTERM/SIGINT: take jobs from the platform, answer /health
  check      connect to NATS and the mail server once, print what was found, exit 0 when healthy
  backup     run a one-off backup now, with a progress bar
             --mailbox <address>   (repeatable; default: every configured mailbox + public folders)
             --filter '<json>'     e.g. '{"fromDate":"2026-01-01T00:00:00Z","hasAttachment":true}'
             --json                machine-readable summary only`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      mailbox: { type: 'string', multiple: true },
      filter: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!values.config) {
    process.stderr.write(`connector ${command}: --config <file> is required\n`);
    return 2;
  }
  const config = loadConnectorConfig(values.config);
  // Logs go to stderr: stdout carries only a command's result (e.g. the JSON summary of `backup`).
  const logger = createLogger({
    service: 'connector',
    level: config.logLevel,
    instanceId: config.connectorId,
    toStderr: true,
  });
  switch (command) {
    case 'init-key': {
      const keys = createTenantKeyFile(keyFilePath(config));
      process.stdout.write(
        `created tenant key ${keys.keyId} in ${keyFilePath(config)}\n` +
          'Keep a copy somewhere safe: without this key the backups cannot be decrypted by anyone.\n',
      );
      return 0;
    }
    case 'check': {
      const agent = new ConnectorAgent(config, logger);
      await agent.start();
      const report = await agent.health();
      await agent.stop();
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.status === 'ok' ? 0 : 1;
    }
    case 'run': {
      const agent = new ConnectorAgent(config, logger);
      await agent.start({ daemon: true });
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await agent.stop();
      return 0;
    }
    case 'backup': {
      const agent = new ConnectorAgent(config, logger);
      await agent.start();
      try {
        return await runBackupCommand(agent, config, {
          mailboxes: values.mailbox ?? [],
          filterJson: values.filter,
          full: true,
          json: values.json ?? false,
        });
      } finally {
        await agent.stop();
      }
    }
    default:
      process.stderr.write(`connector: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known = error instanceof ConnectorConfigError || error instanceof KeyFileError;
    process.stderr.write(
      `${known ? '' : 'connector failed: '}${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
