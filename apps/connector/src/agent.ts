import { createServer, type Server } from 'node:http';
import type { ImapFlow } from 'imapflow';
import { tenantInboxPrefix, type TenantMlrStatus } from '@mlr/contracts';
import { connectMessaging, type MessagingConnection } from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import { keyFilePath, natsCredentials, type ConnectorConfig } from './config/connector-config.js';
import { refreshCredentials } from './enrol/credentials-refresh.js';
import { JobExecutor, type ConnectorAdapters } from './jobs/job-executor.js';
import { loadTenantKeys } from './keys/key-file.js';
import { mailboxLogin, openImapSession } from './sources/imap/imap-session.js';

export interface ConnectorHealth {
  status: 'ok' | 'down';
  tenantId: string;
  connectorId: string;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/**
 * The long-running on-premises agent: holds its NATS connection (tenant-scoped credentials) and
 * checks the mail server, answers `/health` locally, and stops cleanly on SIGTERM.
 */
export class ConnectorAgent {
  private messaging?: MessagingConnection;
  private server?: Server;
  private executor?: JobExecutor;
  private stopping = false;

  constructor(
    private readonly config: ConnectorConfig,
    private readonly logger: Logger,
    private readonly adapters: ConnectorAdapters = {},
  ) {}

  /**
   * Connects. As the long-running agent (`daemon`), also takes jobs from the platform and answers
   * `/health` on the configured port until stopped; one-off commands do neither.
   */
  async start(options: { daemon?: boolean } = {}): Promise<{ healthPort?: number }> {
    // The key is checked first: without it nothing can be backed up, so say so before connecting.
    const keys = loadTenantKeys(keyFilePath(this.config));
    const connect = () =>
      connectMessaging({
        servers: this.config.nats.url,
        name: `connector-${this.config.tenantId}-${this.config.connectorId}`,
        credentials: natsCredentials(this.config),
        inboxPrefix: tenantInboxPrefix(this.config.tenantId),
        waitOnFirstConnect: true,
        logger: this.logger,
      });
    this.messaging = await connect();
    // Credentials from an older build get today's permissions and limits, applied when connecting.
    if (await refreshCredentials(this.config, this.messaging, this.logger)) {
      await this.messaging.close();
      this.messaging = await connect();
    }
    this.connectionLost = this.messaging.closed.then((error) =>
      this.stopping ? null : (error ?? new Error('the NATS connection was closed')),
    );
    this.executor = new JobExecutor(this.config, this.messaging, keys, this.logger, this.adapters);
    if (options.daemon) this.executor.startJobIntake();
    const first = await this.health();
    this.logger.info({ event: 'started', health: first }, 'connector started');
    if (!options.daemon || !this.config.health) return {};
    this.server = createServer((request, response) => {
      if (request.url !== '/health') {
        response.writeHead(404).end();
        return;
      }
      this.health().then(
        (report) =>
          response
            .writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify(report)),
        (error: Error) => response.writeHead(500).end(error.message),
      );
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(this.config.health?.port, this.config.health?.host, resolve));
    const address = server.address() as { port: number };
    this.logger.info({ event: 'ready', port: address.port }, `connector health on port ${address.port}`);
    return { healthPort: address.port };
  }

  async health(): Promise<ConnectorHealth> {
    const checks: ConnectorHealth['checks'] = {};
    try {
      if (!this.messaging || this.messaging.nc.isClosed()) throw new Error('not connected');
      await this.messaging.nc.flush();
      checks['nats'] = { ok: true };
    } catch (error) {
      checks['nats'] = { ok: false, detail: (error as Error).message };
    }
    // IMAP has no session of "the server": prove access by opening each source's first protected mailbox.
    const failures: string[] = [];
    for (const source of this.config.sources) {
      let imap: ImapFlow | undefined;
      try {
        const [first] = source.mailboxes;
        imap = await openImapSession(source, {
          ...(first ? mailboxLogin(source, first.address) : {}),
          clientName: 'mlr-connector-health',
        });
      } catch (error) {
        const detail = (error as Error).message;
        failures.push(this.config.sources.length > 1 ? `source ${source.name}: ${detail}` : detail);
      } finally {
        await imap?.logout().catch(() => undefined);
      }
    }
    checks['imap'] = failures.length === 0 ? { ok: true } : { ok: false, detail: failures.join('; ') };
    return {
      status: Object.values(checks).every((c) => c.ok) ? 'ok' : 'down',
      tenantId: this.config.tenantId,
      connectorId: this.config.connectorId,
      checks,
    };
  }

  /**
   * Asks licensing whether this tenant's jobs may run (`tenant.status`), before a job given on the
   * command line: a tenant without MLR is refused before any mail is read. Jobs from the platform's
   * queue were checked by scheduling when it created them, and again when taken (`executeQueued`).
   */
  async mlrStatus(): Promise<TenantMlrStatus> {
    return this.jobs.tenantStatus();
  }

  /** The job executor (after `start()`), for one-off jobs from the command line. */
  get jobs(): JobExecutor {
    if (!this.executor) throw new Error('connector not started');
    return this.executor;
  }

  /**
   * Resolves with the reason when the NATS connection ends for good while the agent runs (the
   * client gives up only when the server keeps refusing the credentials, e.g. once the connector
   * was revoked); with null after `stop()`.
   */
  connectionLost: Promise<Error | null> = new Promise(() => undefined);

  async stop(): Promise<void> {
    this.stopping = true;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.executor?.stop();
    await this.messaging?.close();
    this.logger.info({ event: 'stopped' }, 'connector stopped');
  }
}

/** Why the agent stopped when the platform's NATS let it go, and what to do. */
export function connectionLostMessage(error: Error): string {
  if (/revoked|authori[sz]ation violation|authentication/i.test(error.message)) {
    return (
      `the platform no longer accepts this connector's NATS credentials (${error.message}): ` +
      'the connector was probably revoked. Ask for a new connector and enrolment token and run "connector enroll".'
    );
  }
  return `the connection to the platform's NATS ended: ${error.message}`;
}
