import { parseArgs } from 'node:util';
import { createLogger } from '@mlr/telemetry';
import { ConnectorAgent } from './agent.js';
import { ConnectorConfigError, loadConnectorConfig } from './config/connector-config.js';

const USAGE = `usage: connector <command> --config <file>

commands:
  run     run the agent until SIGTERM/SIGINT (takes jobs, answers /health)
  check   connect to NATS and the mail server once, print what was found, exit 0 when healthy`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
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
  const logger = createLogger({ service: 'connector', level: config.logLevel, instanceId: config.connectorId });
  const agent = new ConnectorAgent(config, logger);
  switch (command) {
    case 'check': {
      await agent.start();
      const report = await agent.health();
      await agent.stop();
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.status === 'ok' ? 0 : 1;
    }
    case 'run': {
      await agent.start();
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await agent.stop();
      return 0;
    }
    default:
      process.stderr.write(`connector: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const prefix = error instanceof ConnectorConfigError ? '' : 'connector failed: ';
    process.stderr.write(`${prefix}${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
