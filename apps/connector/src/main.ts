import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { ContractViolation } from '@mlr/contracts';
import { createLogger, type Logger } from '@mlr/telemetry';
import { ConnectorAgent, connectionLostMessage } from './agent.js';
import { runBackupCommand } from './cli/backup-command.js';
import { GatewayClient, GatewayError } from './cli/gateway-client.js';
import { runRestoreCommand, type RestoreCliOptions } from './cli/restore-command.js';
import { runSearchCommand, SEARCH_OPTIONS } from './cli/search-command.js';
import {
  ConnectorConfigError,
  keyFilePath,
  loadConnectorConfig,
  type ConnectorConfig,
  type NamedSourceConfig,
} from './config/connector-config.js';
import { createTenantKeyFile, KeyFileError } from './keys/key-file.js';
import { RecoveryKitError } from '@mlr/crypto';
import { AGENT_VERSION } from './enrol/agent-version.js';
import { runEnrolCommand, runExportRecoveryKit } from './enrol/enrol-command.js';
import { PassphraseError, promptHidden } from './enrol/passphrase.js';
import { Microsoft365SignInError } from './sources/microsoft365/app-token.js';
import { signInWithDeviceCode } from './sources/microsoft365/device-sign-in.js';
import { sourceOf } from './sources/connector-sources.js';

/**
 * V8 lets the old generation grow by up to 4x between full collections. A backup turns over
 * hundreds of MiB of short-lived message bytes, index records and IMAP tokens, and the garbage
 * left waiting for a lazy collection was what brought the connector to ~250 MiB at a peak
 * (20,000 × 10 KiB); growing by half at most keeps it at ~180 MiB for no measurable CPU. Set here,
 * not on the command line, because customers start the connector in their own ways; V8 reads this
 * flag whenever it sizes the heap, so setting it at start-up is in time.
 */
const CONNECTOR_V8_FLAGS = '--heap-growing-percent=50';
setFlagsFromString(CONNECTOR_V8_FLAGS);

const USAGE = `usage: connector <command> --config <file> [options]

commands:
  enroll     enrol this connector with the platform (once): checks the service account (or the
             Microsoft 365 app: sign-in, IMAP.AccessAsApp, a mailbox opened with it), makes the
             connector's own NATS key, exchanges the one-time token for its NATS credentials, creates
             the tenant key (or imports it: --recovery-kit <file>) and updates the configuration
             --gateway <url> (or MLR_GATEWAY_URL)  --enrolment-token <token> (or MLR_ENROLMENT_TOKEN)
             --recovery-kit <file>  passphrase from MLR_RECOVERY_PASSPHRASE or typed in
             --probe-mailbox <address>  a mailbox not the service account's (Microsoft 365: one the
                           app should open; default the first configured), to check "Receive As"
             --creds-file <file>  (default <stateDir>/nats.creds)
  export-recovery-kit  write the tenant key under a passphrase to --out <file> (keep it elsewhere)
  init-key   create the tenant key (once, on the customer's side; keep a recovery copy safe)
  run        run the agent until SIGTERM/SIGINT: take jobs from the platform, answer /health
  check      connect to NATS and the mail server once, print what was found, exit 0 when healthy
  backup     run a one-off backup now, with a progress bar
             --mailbox <address>   (repeatable; default: every configured mailbox + public folders)
             --filter '<json>'     e.g. '{"fromDate":"2026-01-01T00:00:00Z","hasAttachment":true}'
             --own-credentials --login <address>   back up only the owner's mailbox with their own
                           IMAP login (password from MLR_MAILBOX_PASSWORD or typed; Microsoft 365:
                           their own sign-in with a code shown here), for when the service account
                           (or the Microsoft 365 app) has no "Receive As"; the password or token
                           is never stored or sent; --sign-in-name <name> where the owner's
                           Microsoft 365 sign-in name is not the mailbox address
             --json                machine-readable summary only
  search     search the backups of this connector's tenant (through the gateway)
             --from-date/--to-date <date>  --from/--to <address or domain>  --subject <text>
             --attachment <name>  --mailbox <address> (repeatable)  --folder <folder>  --text <words>
             --item-type <type>  --has-attachment  --flagged  --unread  --min-size/--max-size <bytes>
             --backup-job <id>  --limit <n> (default 100)  --json
             --form rfc5322|icalendar|vcard   items of a kind: appointments --starts-from/--starts-to
             <date> --attendee <address or domain> --location <text> --recurring; tasks --due-from/
             --due-to <date> --task-status needs-action|in-process|completed|cancelled; contacts
             --name <text> --email <address or domain> --phone <number>; phone messages --caller
             <text> --phone <number> --callback --urgent
  restore    restore messages through this connector, with a progress bar
             --record <id> (repeatable, ids from search) or the search options above
             --target original | folder:<folder> | mailbox:<address>[:<folder>] | mbox:<file> | eml-zip:<file>
                      | items-zip:<file> (every kind in its own form: .eml, .ics, .vcf; a mailbox or
                      an mbox file takes messages only and refuses the others, each with the reason)
             --duplicate   restore even when the same message is already in the target folder
             --own-credentials --login <address>   run the restore here with the mailbox owner's own
                           IMAP login (password from MLR_MAILBOX_PASSWORD or typed; Microsoft 365:
                           their own sign-in with a code shown here), for when the service account
                           (or the Microsoft 365 app) has no "Receive As"; the password or token
                           never leaves this machine; --sign-in-name as for backup
             --json        machine-readable summary only
  search and restore talk to the gateway: --gateway <url> (or MLR_GATEWAY_URL) with the token of the
  person asking: --token <token> (or MLR_TOKEN)`;

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
      record: { type: 'string', multiple: true },
      target: { type: 'string' },
      duplicate: { type: 'boolean', default: false },
      'own-credentials': { type: 'boolean', default: false },
      'sign-in-name': { type: 'string' },
      login: { type: 'string' },
      limit: { type: 'string' },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'enrolment-token': { type: 'string' },
      'recovery-kit': { type: 'string' },
      'probe-mailbox': { type: 'string' },
      'creds-file': { type: 'string' },
      out: { type: 'string' },
      ...SEARCH_OPTIONS,
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
  if (command === 'enroll') {
    const gatewayUrl = values.gateway ?? process.env['MLR_GATEWAY_URL'];
    const token = values['enrolment-token'] ?? process.env['MLR_ENROLMENT_TOKEN'];
    if (!gatewayUrl || !token) {
      process.stderr.write(
        'connector enroll: give the gateway (--gateway <url> or MLR_GATEWAY_URL) and the one-time token ' +
          '(--enrolment-token <token> or MLR_ENROLMENT_TOKEN)\n',
      );
      return 2;
    }
    return runEnrolCommand({
      configPath: values.config,
      gatewayUrl,
      token,
      recoveryKitPath: values['recovery-kit'],
      passphraseFromEnv: process.env['MLR_RECOVERY_PASSPHRASE'],
      probeMailbox: values['probe-mailbox'],
      credsFile: values['creds-file'],
      agentVersion: AGENT_VERSION,
      print: (text) => process.stdout.write(text),
    });
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
    case 'export-recovery-kit': {
      if (!values.out) {
        process.stderr.write('connector export-recovery-kit: --out <file> is required\n');
        return 2;
      }
      return runExportRecoveryKit({
        keyFile: keyFilePath(config),
        out: values.out,
        passphraseFromEnv: process.env['MLR_RECOVERY_PASSPHRASE'],
        print: (text) => process.stdout.write(text),
      });
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
      const lost = await Promise.race([
        new Promise<null>((resolve) => {
          process.once('SIGTERM', () => resolve(null));
          process.once('SIGINT', () => resolve(null));
        }),
        agent.connectionLost,
      ]);
      await agent.stop();
      if (!lost) return 0;
      process.stderr.write(`connector: ${connectionLostMessage(lost)}\n`);
      return 1;
    }
    case 'backup': {
      let mailboxes = values.mailbox ?? [];
      let runConfig = config;
      if (values['own-credentials']) {
        const login = values.login;
        runConfig = await ownCredentialsConfig(config, login, values['sign-in-name']);
        const others = mailboxes.filter((mailbox) => mailbox !== login);
        if (others.length > 0) {
          process.stderr.write(
            `connector backup: --own-credentials backs up only the mailbox of ${login}, not ${others.join(', ')}\n`,
          );
          return 2;
        }
        mailboxes = runConfig.sources.flatMap((source) => source.mailboxes.map((mailbox) => mailbox.address));
      }
      const agent = new ConnectorAgent(runConfig, logger);
      await agent.start();
      try {
        return await runBackupCommand(agent, runConfig, {
          mailboxes,
          filterJson: values.filter,
          full: true,
          json: values.json ?? false,
        });
      } finally {
        await agent.stop();
      }
    }
    case 'search':
    case 'restore': {
      const url = values.gateway ?? process.env['MLR_GATEWAY_URL'];
      if (!url) {
        process.stderr.write(`connector ${command}: give the gateway with --gateway <url> or MLR_GATEWAY_URL\n`);
        return 2;
      }
      const gateway = new GatewayClient({ url, token: values.token ?? process.env['MLR_TOKEN'] });
      const flags = { ...values, mailbox: values.mailbox ?? [] };
      if (command === 'search') {
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
          process.stderr.write(`connector search: --limit must be a whole number from 1 to 100000\n`);
          return 2;
        }
        return runSearchCommand(gateway, { tenantId: config.tenantId, flags, limit, json: values.json ?? false });
      }
      if (values['own-credentials'] && /^(mbox|eml-zip|items-zip):/.test(values.target ?? '')) {
        process.stderr.write(
          'connector restore: an export opens no mailbox, so it needs no --own-credentials (the agent writes the file)\n',
        );
        return 2;
      }
      return runRestoreCommand(gateway, {
        tenantId: config.tenantId,
        connectorId: config.connectorId,
        recordIds: values.record ?? [],
        flags,
        target: values.target,
        duplicate: values.duplicate ?? false,
        json: values.json ?? false,
        ...(values['own-credentials']
          ? { runHere: await ownCredentialsRunner(config, logger, values.login, values['sign-in-name']) }
          : {}),
      });
    }
    default:
      process.stderr.write(`connector: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

/**
 * The configuration of a `--own-credentials` run: the mailbox owner's own IMAP login instead of the
 * service account (no "Receive As"), for their mailbox only. The password (Microsoft 365: their own
 * sign-in, with a device code) is obtained here and used only for this run: it is never written,
 * and never sent anywhere but the IMAP server.
 */
async function ownCredentialsConfig(
  config: ConnectorConfig,
  login: string | undefined,
  signInName: string | undefined,
): Promise<ConnectorConfig> {
  if (!login) throw new ConnectorConfigError("--own-credentials needs --login <the mailbox owner's IMAP login>");
  // The owner's login opens the owner's mailbox on the source that holds it, and nothing else.
  let holder: NamedSourceConfig;
  try {
    holder = sourceOf(config, login);
  } catch (error) {
    throw new ConnectorConfigError(`--own-credentials: ${(error as Error).message}`);
  }
  const { serviceAccount: _serviceAccount, microsoft365App: app, ...source } = holder;
  if (app) {
    // Exchange Online takes no passwords over IMAP: the owner signs in to Microsoft 365 instead.
    const accessToken = await signInWithDeviceCode(app, {
      login,
      ...(signInName ? { signInName } : {}),
      print: (text) => process.stderr.write(text),
    });
    return { ...config, sources: [{ ...source, mailboxes: [{ address: login, accessToken }] }] };
  }
  const fromEnv = process.env['MLR_MAILBOX_PASSWORD'];
  let password = fromEnv ?? '';
  if (!password) {
    if (!process.stdin.isTTY) {
      throw new ConnectorConfigError(
        `--own-credentials needs the password of ${login}: set MLR_MAILBOX_PASSWORD or run the command in a terminal`,
      );
    }
    password = await promptHidden(`IMAP password of ${login}: `);
  }
  return { ...config, sources: [{ ...source, mailboxes: [{ address: login, password }] }] };
}

/** The restore runner of `restore --own-credentials`: this process runs the job with the owner's login. */
async function ownCredentialsRunner(
  config: ConnectorConfig,
  logger: Logger,
  login: string | undefined,
  signInName: string | undefined,
): Promise<NonNullable<RestoreCliOptions['runHere']>> {
  const own = await ownCredentialsConfig(config, login, signInName);
  return async (command, onProgress) => {
    const agent = new ConnectorAgent(own, logger);
    await agent.start();
    try {
      await agent.jobs.execute(command, (_state, counters) => onProgress(counters));
    } finally {
      await agent.stop();
    }
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known =
      error instanceof ConnectorConfigError ||
      error instanceof KeyFileError ||
      error instanceof GatewayError ||
      error instanceof RecoveryKitError ||
      error instanceof PassphraseError ||
      error instanceof Microsoft365SignInError ||
      error instanceof ContractViolation;
    process.stderr.write(
      `${known ? '' : 'connector failed: '}${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
