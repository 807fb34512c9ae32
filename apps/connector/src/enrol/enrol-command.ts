import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fmtCreds } from '@nats-io/jwt';
import { createUser } from '@nats-io/nkeys';
import {
  ENROLMENT_TOKEN_PATTERN,
  ENROLMENT_TOKEN_PREFIX,
  enrolmentSchema,
  parseContract,
  type Enrolment,
  type EnrolmentRequest,
} from '@mlr/contracts';
import { GatewayClient } from '../cli/gateway-client.js';
import { ConnectorConfigError } from '../config/connector-config.js';
import { KeyFileError } from '../keys/key-file.js';
import { checkSourcesCapability, type CapabilityReport } from './capability.js';
import { sourceIndexOf } from '../sources/connector-sources.js';
import { defaultCredsFile, readEnrolmentConfig, writeEnrolledConfig } from './enrolment-config.js';
import { recoveryPassphrase } from './passphrase.js';
import { applyTenantKeyPlan, KEY_LOSS_WARNING, planTenantKey, writeRecoveryKit } from './tenant-key.js';

export interface EnrolCommandOptions {
  configPath: string;
  gatewayUrl: string;
  token: string;
  /** A recovery kit to take the tenant key from (another connector of the tenant made the key). */
  recoveryKitPath?: string;
  /** MLR_RECOVERY_PASSPHRASE, when set. */
  passphraseFromEnv?: string;
  /** The mailbox the capability check tries to open (default: the first configured one not the service account's). */
  probeMailbox?: string;
  /** Where to write the creds file (default `<stateDir>/nats.creds`). */
  credsFile?: string;
  agentVersion: string;
  /** Where the command speaks to the person enrolling (stdout). */
  print: (text: string) => void;
  /** The capability check; replaceable in tests. */
  checkCapability?: (config: ReturnType<typeof readEnrolmentConfig>['config']) => Promise<CapabilityReport>;
}

/** Writes a secret file atomically with mode 0600. */
export function writeSecretFile(path: string, content: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${Date.now()}.${process.pid}.tmp`);
  writeFileSync(temporary, content, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/**
 * `connector enroll`: checks everything that can be checked before the single-use token is spent
 * (configuration, token shape, recovery kit and passphrase), checks the service account, generates
 * the connector's own NATS key pair (the seed stays here), exchanges the token and the public key
 * for the connector's NATS user JWT, then writes the creds file (0600), the tenant key (created or
 * imported) and the configuration. The request names the tenant key's id: a connector whose key is not
 * the one the tenant's backups are sealed with is refused, and then nothing is written. Returns the
 * exit code.
 */
export async function runEnrolCommand(options: EnrolCommandOptions): Promise<number> {
  const { raw, config } = readEnrolmentConfig(options.configPath);
  const token = options.token.trim();
  if (!ENROLMENT_TOKEN_PATTERN.test(token)) {
    throw new ConnectorConfigError(
      `the enrolment token is not one: it starts with "${ENROLMENT_TOKEN_PREFIX}" followed by 43 characters (copy it again from the console)`,
    );
  }
  const keyFile = config.keyFile ?? resolve(config.stateDir, 'tenant.key');
  const credsFile = resolve(options.credsFile ?? defaultCredsFile(config));

  let kit: { text: string; passphrase: string } | undefined;
  if (options.recoveryKitPath) {
    let text: string;
    try {
      text = readFileSync(options.recoveryKitPath, 'utf8');
    } catch (error) {
      throw new ConnectorConfigError(
        `cannot read the recovery kit ${options.recoveryKitPath}: ${(error as Error).message}`,
      );
    }
    const passphrase = await recoveryPassphrase({
      fromEnv: options.passphraseFromEnv,
      purpose: 'open the recovery kit',
      confirm: false,
    });
    kit = { text, passphrase };
  }
  const keyPlan = await planTenantKey(keyFile, kit);

  // The probe mailbox is tried on the source that holds it; one no source holds is refused here,
  // before the token is spent.
  let probe: { mailbox: string; source: number } | undefined;
  if (options.probeMailbox) {
    try {
      probe = { mailbox: options.probeMailbox, source: sourceIndexOf(config, options.probeMailbox) };
    } catch (error) {
      throw new ConnectorConfigError(`--probe-mailbox: ${(error as Error).message}`);
    }
  }
  const check = options.checkCapability ?? ((c) => checkSourcesCapability(c.sources, probe ? { probe } : {}));
  const capability = await check(config);
  const [only] = config.sources;
  const checked =
    config.sources.length > 1
      ? 'Check of every source'
      : only?.microsoft365App
        ? 'Microsoft 365 app check'
        : 'Service account check';
  options.print(`${checked}: receive-as ${capability.receiveAs}: ${capability.finding}.\n`);
  for (const warning of capability.warnings) options.print(`WARNING: ${warning}\n`);

  const key = createUser();
  const request: EnrolmentRequest = {
    token,
    natsPublicKey: key.getPublicKey(),
    capability: { receiveAs: capability.receiveAs, warnings: capability.warnings, checkedAt: capability.checkedAt },
    agentVersion: options.agentVersion,
    sourceKind: (only ?? { kind: 'imap' as const }).kind,
    // Only the id: the key stays here. Licensing refuses a key that is not the tenant's.
    tenantKeyId: keyPlan.keyId,
  };
  const gateway = new GatewayClient({ url: options.gatewayUrl });
  const answer = await gateway.post<unknown>('/v1/enrolments', request);
  const enrolment: Enrolment = parseContract('enrolment answer of the gateway', enrolmentSchema, answer);

  if (keyPlan.action === 'keep' && config.tenantId !== undefined && config.tenantId !== enrolment.tenantId) {
    // One tenant's key must never seal another tenant's mail.
    throw new KeyFileError(
      `${keyFile} holds the key of tenant ${config.tenantId}, but the token enrolled a connector of tenant ` +
        `${enrolment.tenantId}: nothing was written; enrol with a configuration whose stateDir (or keyFile) is new, and a new token`,
    );
  }
  writeSecretFile(credsFile, fmtCreds(enrolment.userJwt, key));
  applyTenantKeyPlan(keyFile, keyPlan);
  writeEnrolledConfig(options.configPath, raw, {
    tenantId: enrolment.tenantId,
    connectorId: enrolment.connectorId,
    credsFile,
  });

  const keyLine = {
    create: `Created the tenant key ${keyPlan.keyId} in ${keyFile}.`,
    import: `Imported the tenant key ${keyPlan.keyId} from the recovery kit into ${keyFile}.`,
    keep: `Kept the tenant key ${keyPlan.keyId} in ${keyFile}.`,
  }[keyPlan.action];
  options.print(
    [
      `Enrolled connector ${enrolment.connectorId} of tenant ${enrolment.tenantId}.`,
      `NATS credentials: ${credsFile} (its private key was made here and never left this machine).`,
      keyLine,
      `Configuration updated: ${options.configPath}.`,
      keyPlan.action === 'create'
        ? `Now make a recovery kit and keep it away from this machine:\n  connector export-recovery-kit --config ${options.configPath} --out <file>`
        : '',
      KEY_LOSS_WARNING,
    ]
      .filter((line) => line !== '')
      .join('\n') + '\n',
  );
  return 0;
}

export interface ExportKitOptions {
  keyFile: string;
  out: string;
  passphraseFromEnv?: string;
  print: (text: string) => void;
}

/** `connector export-recovery-kit`: the tenant key under a passphrase, in a file to keep elsewhere. */
export async function runExportRecoveryKit(options: ExportKitOptions): Promise<number> {
  const passphrase = await recoveryPassphrase({
    fromEnv: options.passphraseFromEnv,
    purpose: 'protect the recovery kit (at least 12 characters)',
    confirm: true,
  });
  const keyId = await writeRecoveryKit(options.keyFile, options.out, passphrase);
  options.print(
    `Wrote the recovery kit of tenant key ${keyId} to ${options.out}.\n` +
      'Store it (and its passphrase, separately) away from this machine.\n' +
      `${KEY_LOSS_WARNING}\n`,
  );
  return 0;
}
