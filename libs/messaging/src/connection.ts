import { connect } from '@nats-io/transport-node';
import {
  credsAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
  type Status,
} from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { describeError, silentLogger, type MessagingLogger } from './logger.js';

export type NatsCredentials =
  | { kind: 'userPassword'; user: string; password: string }
  | { kind: 'token'; token: string }
  /** Contents of a `.creds` file (JWT + NKey seed), not its path. */
  | { kind: 'creds'; creds: string | Uint8Array };

export interface MessagingConnectOptions {
  /** One or more server URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name shown by the server (`connz`), e.g. `storage-7f9c` or `connector-acme-01`. */
  name: string;
  credentials?: NatsCredentials;
  /** Reply-subject prefix, e.g. a tenant-specific `_INBOX_acme` that the user's permissions allow. */
  inboxPrefix?: string;
  /** Wait between reconnect attempts (jitter is added by the client). Default 1000 ms. */
  reconnectWaitMs?: number;
  /** Keep trying when the very first connect fails (on-premises agents). Default false: fail fast. */
  waitOnFirstConnect?: boolean;
  /** Connect and JetStream API timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Longest time `close()` waits for the drain before closing hard. Default 10000 ms. */
  drainTimeoutMs?: number;
  logger?: MessagingLogger;
}

/** A NATS connection with JetStream, reconnecting forever until `close()`. */
export interface MessagingConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly logger: MessagingLogger;
  /** The JetStream manager (created on first use; needs `$JS.API.INFO`). */
  manager(): Promise<JetStreamManager>;
  /** Drains (finishes subscriptions and pending publishes), then closes. Safe to call twice. */
  close(): Promise<void>;
  /** Resolves when the connection is closed for good (with the error that closed it, if any). */
  readonly closed: Promise<Error | undefined>;
}

/**
 * The credentials as options of `connect()` of `@nats-io/transport-node` — also what Nest's NATS
 * transport and clients take, since they load the same package.
 */
export function natsAuthOptions(
  credentials: NatsCredentials | undefined,
): Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'> {
  if (!credentials) return {};
  switch (credentials.kind) {
    case 'userPassword':
      return { user: credentials.user, pass: credentials.password };
    case 'token':
      return { token: credentials.token };
    case 'creds': {
      const bytes =
        typeof credentials.creds === 'string' ? new TextEncoder().encode(credentials.creds) : credentials.creds;
      const authenticator: Authenticator = credsAuthenticator(bytes);
      return { authenticator };
    }
  }
}

function logStatus(logger: MessagingLogger, name: string, status: Status): void {
  const fields: Record<string, unknown> = { connection: name, event: status.type };
  switch (status.type) {
    case 'disconnect':
      logger.warn({ ...fields, server: status.server }, 'nats disconnected');
      return;
    case 'reconnecting':
      logger.debug(fields, 'nats reconnecting');
      return;
    case 'reconnect':
      logger.info({ ...fields, server: status.server }, 'nats reconnected');
      return;
    case 'error':
      logger.error({ ...fields, error: describeError(status.error) }, 'nats connection error');
      return;
    case 'ldm':
      logger.warn({ ...fields, server: status.server }, 'nats server entering lame-duck mode');
      return;
    case 'staleConnection':
      logger.warn(fields, 'nats connection is stale');
      return;
    case 'slowConsumer':
      logger.warn({ ...fields, subject: status.sub.getSubject(), pending: status.pending }, 'nats slow consumer');
      return;
    case 'forceReconnect':
      logger.info(fields, 'nats reconnect forced');
      return;
    case 'close':
      logger.info(fields, 'nats connection closed');
      return;
    case 'update':
      logger.debug({ ...fields, added: status.added, deleted: status.deleted }, 'nats cluster update');
      return;
    case 'ping':
      logger.debug({ ...fields, pendingPings: status.pendingPings }, 'nats ping outstanding');
      return;
  }
}

export async function connectMessaging(options: MessagingConnectOptions): Promise<MessagingConnection> {
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    ...natsAuthOptions(options.credentials),
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectWaitMs ?? 1_000,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    timeout: timeoutMs,
  });
  logger.info({ connection: options.name, server: nc.getServer(), serverVersion: nc.info?.version }, 'nats connected');

  void (async () => {
    for await (const status of nc.status()) logStatus(logger, options.name, status);
  })().catch((error: unknown) =>
    logger.error({ connection: options.name, error: describeError(error) }, 'nats status watcher failed'),
  );

  const js = jetstream(nc, { timeout: timeoutMs });
  let managerPromise: Promise<JetStreamManager> | undefined;
  let closing: Promise<void> | undefined;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;

  const closed = nc.closed().then((error) => {
    if (error)
      logger.error({ connection: options.name, error: describeError(error) }, 'nats connection closed with an error');
    return error ?? undefined;
  });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (nc.isClosed()) return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), drainTimeoutMs);
      });
      try {
        const outcome = await Promise.race([nc.drain().then(() => 'drained' as const), timedOut]);
        if (outcome === 'timeout')
          logger.warn({ connection: options.name, drainTimeoutMs }, 'nats drain timed out; closing');
      } catch (error) {
        logger.warn({ connection: options.name, error: describeError(error) }, 'nats drain failed; closing');
      } finally {
        clearTimeout(timer);
        if (!nc.isClosed()) await nc.close();
      }
    })();
    return closing;
  };

  return {
    nc,
    js,
    logger,
    manager: () => {
      managerPromise ??= jetstreamManager(nc, { timeout: timeoutMs }).catch((error: unknown) => {
        managerPromise = undefined;
        throw error;
      });
      return managerPromise;
    },
    close,
    closed,
  };
}
