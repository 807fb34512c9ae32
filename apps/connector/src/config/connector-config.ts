import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { connectorIdSchema, parseContract, tenantIdSchema } from '@mlr/contracts';
import type { NatsCredentials } from '@mlr/messaging';

const credentialsSchema = z.strictObject({ user: z.string().min(1), password: z.string().min(1) });

/**
 * Microsoft 365 (Exchange Online) read over IMAP with an app-only token instead of a service
 * account's password: an Entra ID app registration with the `IMAP.AccessAsApp` application
 * permission (admin consent), registered in Exchange Online as a service principal with FullAccess
 * on the mailboxes it backs up. Every mailbox is opened with the app's token and its own address.
 */
export const microsoft365AppSchema = z.strictObject({
  /** The organisation's directory (tenant) id, or one of its verified domains. */
  tenant: z.string().min(1),
  /** The app registration's application (client) id. */
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /**
   * The Microsoft identity platform of the tenant's cloud (e.g. https://login.microsoftonline.us for
   * GCC High). https: the client secret travels to it; plain http only to this machine (a local proxy).
   */
  authorityHost: z
    .string()
    .regex(
      /^(https:\/\/[^/\s]+|http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?)\/?$/,
      'must be the https origin of the identity platform, e.g. https://login.microsoftonline.com',
    )
    .default('https://login.microsoftonline.com'),
  /** Exchange Online's resource with `/.default`: the app gets the permissions consented to it. */
  scope: z
    .string()
    .regex(/\/\.default$/, 'must end with /.default (client credentials take the consented permissions of a resource)')
    .default('https://outlook.office365.com/.default'),
});

const imapSourceFields = {
  kind: z.literal('imap'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  /** Implicit TLS (993). STARTTLS is used automatically when the server offers it. */
  secure: z.boolean().default(false),
  /** Accept self-signed server certificates (on-premises servers often have them). */
  allowSelfSigned: z.boolean().default(false),
  /** The service account; with the master-user ("Receive As") right it opens every mailbox. */
  serviceAccount: credentialsSchema.optional(),
  /** Microsoft 365: the app that opens every mailbox (instead of a service account). */
  microsoft365App: microsoft365AppSchema.optional(),
  /** Mailboxes this connector protects, with their own credentials where there is no service account. */
  mailboxes: z
    .array(z.strictObject({ address: z.string().min(1), password: z.string().min(1).optional() }))
    .default([]),
};

/** The rules of one IMAP source, whatever else it holds. */
function imapSourceRules<T extends z.ZodType<z.output<z.ZodObject<typeof imapSourceFields>>>>(schema: T) {
  return schema
    .refine((source) => !(source.serviceAccount && source.microsoft365App), {
      path: ['microsoft365App'],
      message: 'give serviceAccount or microsoft365App, not both: each opens every mailbox on its own',
    })
    .refine((source) => !(source.microsoft365App && source.mailboxes.some((mailbox) => mailbox.password)), {
      path: ['mailboxes'],
      message:
        'no passwords with microsoft365App: Exchange Online takes no passwords over IMAP (the app opens every mailbox)',
    });
}

export const imapSourceSchema = imapSourceRules(z.strictObject(imapSourceFields));

/** A source of a connector with several: its name says which one in logs, errors and checks. */
export const namedImapSourceSchema = imapSourceRules(
  z.strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be a short name of lower-case letters, digits and dashes'),
    ...imapSourceFields,
  }),
);

/** The name of the one source a configuration with `source` (not `sources`) has. */
export const DEFAULT_SOURCE_NAME = 'default';

export const natsSchema = z
  .strictObject({
    url: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// or tls:// URL'),
    credsFile: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
  })
  .superRefine((nats, context) => {
    const password = nats.user !== undefined || nats.password !== undefined;
    if (nats.credsFile !== undefined && password) {
      context.addIssue({
        code: 'custom',
        path: ['credsFile'],
        message: 'give credsFile or user and password, not both',
      });
    } else if (nats.credsFile === undefined && (nats.user === undefined || nats.password === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [nats.user === undefined ? 'user' : 'password'],
        message: 'NATS credentials are missing: give credsFile (run "connector enroll") or user and password',
      });
    }
  });

/**
 * The connector's own configuration file. It holds the mail server credentials and the path of the
 * tenant key: none of it ever leaves the customer site.
 */
export const connectorConfigSchema = z.strictObject({
  tenantId: tenantIdSchema,
  connectorId: connectorIdSchema,
  /** The platform's NATS: a creds file (JWT + the connector's own NKey seed, written by `connector enroll`) or a user and password. */
  nats: natsSchema,
  /** The one mail system this connector protects (or give `sources`). */
  source: imapSourceSchema.optional(),
  /**
   * Several mail systems under one connector (up to 16), each with its own credentials and
   * mailboxes; a mailbox belongs to one source only.
   */
  sources: z.array(namedImapSourceSchema).min(1).max(16).optional(),
  /**
   * With several sources: where a mailbox that no source lists is read and restored (a source that
   * opens any mailbox). Without it such a mailbox is refused: separate mail systems share names.
   */
  defaultSource: z.string().min(1).optional(),
  /** With several sources that could back up public folders: whose public folders (`#public`) are backed up. */
  publicFoldersSource: z.string().min(1).optional(),
  /** Local state lives here. */
  stateDir: z.string().min(1),
  /** The tenant root key (created by `connector init-key`); default `<stateDir>/tenant.key`. */
  keyFile: z.string().min(1).optional(),
  backup: z
    .strictObject({
      /**
       * Messages read and not yet acknowledged, at most. Storage writes a pack once it holds 8 MiB (a
       * thousand messages of 10 KiB), so a fast backup needs a couple of packs' worth in flight.
       */
      concurrency: z.number().int().min(1).max(65_536).default(2048),
      /** Megabytes of such messages at most (counted at their original size; only their sealed form is kept). */
      maxInFlightMiB: z.number().int().min(8).max(4096).default(128),
      /** Back up the server's public folders (needs the service account). */
      publicFolders: z.boolean().default(true),
      /** How long to wait for the platform to acknowledge one message before sending it again. */
      ackTimeoutSeconds: z.number().int().min(5).max(3600).default(120),
    })
    .prefault({}),
  restore: z
    .strictObject({
      /**
       * Where export jobs write their files (the job names only a file inside it); absolute.
       * Default `<stateDir>/exports`.
       */
      exportDir: z
        .string()
        .min(1)
        .refine((value) => isAbsolute(value), 'must be an absolute path')
        .optional(),
      /**
       * Messages fetched and opened ahead of the mailbox writes, per restore job (and about 64 MiB
       * of them at most); storage is asked for half of them at a time, in one batch.
       */
      concurrency: z.number().int().min(1).max(128).default(32),
      /**
       * Restore jobs run at once, beside the backup that may be running: a restore never waits for
       * a backup, only for other restores beyond this many. Each holds up to `concurrency` opened
       * messages in memory.
       */
      jobsAtOnce: z.number().int().min(1).max(16).default(3),
      /**
       * IMAP sessions that write into one target mailbox at once. Servers limit the sessions of one
       * user (Dovecot: 10 per user and address by default), and the backup may hold one as well.
       */
      sessionsPerMailbox: z.number().int().min(1).max(8).default(4),
    })
    .prefault({}),
  health: z
    .strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535) })
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/**
 * A protected mailbox. `accessToken` is never read from a file: it is the owner's own Microsoft 365
 * sign-in, held in memory for one `--own-credentials` run.
 */
export type MailboxConfig = z.output<typeof imapSourceSchema>['mailboxes'][number] & { accessToken?: string };
export type ImapSourceConfig = Omit<z.output<typeof imapSourceSchema>, 'mailboxes'> & { mailboxes: MailboxConfig[] };
/** One source of the connector, named (`default` when the configuration gives one `source`). */
export type NamedSourceConfig = ImapSourceConfig & { name: string };
export type ConnectorConfig = Omit<z.output<typeof connectorConfigSchema>, 'source' | 'sources'> & {
  sources: NamedSourceConfig[];
};

/** What says which source holds a mailbox: the sources and the operator's choices among them. */
export type SourceRouting = Pick<ConnectorConfig, 'sources' | 'defaultSource' | 'publicFoldersSource'>;

/** Whether a source could back up public folders: a service account, and a mailbox to open them through. */
export function readsPublicFolders(source: NamedSourceConfig): boolean {
  return source.serviceAccount !== undefined && source.mailboxes.length > 0;
}

/**
 * The sources a parsed configuration names, checked across each other: `source` or `sources` (one,
 * not both), names unique, and every mailbox address in one source only (compared without case).
 * Returns the problems as [path, message] pairs, or the sources.
 */
export function configuredSources(config: {
  source?: z.output<typeof imapSourceSchema> | undefined;
  sources?: Array<z.output<typeof namedImapSourceSchema>> | undefined;
  defaultSource?: string | undefined;
  publicFoldersSource?: string | undefined;
  backup?: { publicFolders?: boolean } | undefined;
}): { sources: NamedSourceConfig[] } | { problems: Array<[string, string]> } {
  if (config.source && config.sources) {
    return { problems: [['sources', 'give source (one mail system) or sources (several), not both']] };
  }
  const sources = config.sources ?? (config.source ? [{ name: DEFAULT_SOURCE_NAME, ...config.source }] : []);
  if (sources.length === 0) return { problems: [['source', 'no mail system is configured: give source or sources']] };
  const problems: Array<[string, string]> = [];
  const names = new Set<string>();
  const owners = new Map<string, string>();
  for (const [index, source] of sources.entries()) {
    if (names.has(source.name)) problems.push([`sources.${index}.name`, `${source.name} names two sources`]);
    names.add(source.name);
    for (const mailbox of source.mailboxes) {
      const key = mailbox.address.toLowerCase();
      const owner = owners.get(key);
      if (owner !== undefined && owner !== source.name) {
        problems.push([
          `sources.${index}.mailboxes`,
          `mailbox ${mailbox.address} is in sources ${owner} and ${source.name}: a mailbox belongs to one source`,
        ]);
      }
      owners.set(key, source.name);
    }
  }
  for (const field of ['defaultSource', 'publicFoldersSource'] as const) {
    const name = config[field];
    if (name !== undefined && !names.has(name)) problems.push([field, `names no source: ${name}`]);
  }
  const defaultSource = sources.find((source) => source.name === config.defaultSource);
  if (defaultSource && !defaultSource.serviceAccount && !defaultSource.microsoft365App) {
    problems.push([
      'defaultSource',
      `${defaultSource.name} has no service account or Microsoft 365 app to open other mailboxes`,
    ]);
  }
  const publicSource = sources.find((source) => source.name === config.publicFoldersSource);
  if (publicSource && !readsPublicFolders(publicSource)) {
    problems.push([
      'publicFoldersSource',
      `${publicSource.name} needs a service account and a mailbox to open public folders`,
    ]);
  }
  const readers = sources.filter(readsPublicFolders);
  if ((config.backup?.publicFolders ?? true) && readers.length > 1 && config.publicFoldersSource === undefined) {
    problems.push([
      'publicFoldersSource',
      `several sources (${readers.map((source) => source.name).join(', ')}) could back up public folders: name the one whose public folders are backed up, or set backup.publicFolders to false`,
    ]);
  }
  return problems.length > 0 ? { problems } : { sources };
}
export type Microsoft365AppConfig = z.output<typeof microsoft365AppSchema>;

export function keyFilePath(config: ConnectorConfig): string {
  return config.keyFile ?? `${config.stateDir.replace(/\/$/, '')}/tenant.key`;
}

/** The NATS credentials the configuration names; a creds file is read here (errors name it). */
export function natsCredentials(config: ConnectorConfig): NatsCredentials {
  const { credsFile, user, password } = config.nats;
  if (credsFile !== undefined) {
    try {
      return { kind: 'creds', creds: readFileSync(credsFile, 'utf8') };
    } catch (error) {
      throw new ConnectorConfigError(
        `cannot read the NATS creds file ${credsFile}: ${(error as Error).message} (it is written by "connector enroll")`,
      );
    }
  }
  return { kind: 'userPassword', user: user ?? '', password: password ?? '' };
}

/** The directory export jobs write into. */
export function restoreExportDir(config: ConnectorConfig): string {
  return config.restore.exportDir ?? resolve(config.stateDir, 'exports');
}

export class ConnectorConfigError extends Error {
  override readonly name = 'ConnectorConfigError';
}

/** Reads and validates the configuration file; errors name the file and each bad field. */
export function loadConnectorConfig(path: string): ConnectorConfig {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConnectorConfigError(`cannot read connector configuration ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    throw new ConnectorConfigError(`connector configuration ${path} is not valid JSON: ${(error as Error).message}`);
  }
  let parsed: z.output<typeof connectorConfigSchema>;
  try {
    parsed = parseContract(`connector configuration ${path}`, connectorConfigSchema, data);
  } catch (error) {
    throw new ConnectorConfigError((error as Error).message);
  }
  const { source: _source, sources: _sources, ...rest } = parsed;
  return { ...rest, sources: sourcesOrThrow(`connector configuration ${path}`, parsed) };
}

/** `configuredSources`, or a ConnectorConfigError naming each problem. */
export function sourcesOrThrow(what: string, config: Parameters<typeof configuredSources>[0]): NamedSourceConfig[] {
  const outcome = configuredSources(config);
  if ('sources' in outcome) return outcome.sources;
  throw new ConnectorConfigError(
    `${what} is not valid: ${outcome.problems.map(([path, message]) => `${path}: ${message}`).join('; ')}`,
  );
}
