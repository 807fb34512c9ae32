import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, type Clock } from '../common/clock.js';
import { CONNECTOR_REPOSITORY, type ConnectorRepository, type RevokedCredentials } from './connectors.repository.js';

/** What revokes user keys on the NATS server (`NatsAccountRevoker`); null when not configured. */
export interface CredentialRevoker {
  revoke(keys: readonly string[]): Promise<{ added: string[] }>;
  close(): Promise<void>;
}
export const CREDENTIAL_REVOKER = Symbol('CREDENTIAL_REVOKER');

/** How often revoked connectors are checked against the server's account JWT. */
export const RECONCILE_INTERVAL_MS = 5 * 60_000;

/**
 * Keeps the NATS server's revocations in step with the connectors revoked in the database. A revoke
 * applies at once; when the server cannot be reached then (or someone pushed an older account JWT
 * without the revocations), the reconciler, at start and every few minutes, adds what is missing.
 */
@Injectable()
export class ConnectorRevocations implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(
    @Inject(CONNECTOR_REPOSITORY) private readonly connectors: ConnectorRepository,
    @Inject(CREDENTIAL_REVOKER) private readonly revoker: CredentialRevoker | null,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'connector-revocations' });
  }

  /** Whether revoking a connector also cuts its NATS credentials. */
  get enforced(): boolean {
    return this.revoker !== null;
  }

  /**
   * Revokes these connectors' keys on the server and records it. False (and logged) when it could
   * not be done now: the reconciler tries again. Never throws.
   */
  async apply(credentials: RevokedCredentials[]): Promise<boolean> {
    if (credentials.length === 0) return true;
    if (!this.revoker) {
      this.logger.warn(
        { event: 'connector.revocation.not-enforced', connectors: credentials.map((c) => c.id) },
        'NATS revocation is not configured (LICENSING_NATS_OPERATOR_SIGNING_SEED, LICENSING_NATS_SYSTEM_CREDS): ' +
          "the revoked connectors' NATS credentials keep working; scheduling gives them no jobs",
      );
      return false;
    }
    try {
      await this.revoker.revoke(credentials.map((c) => c.natsUserPublicKey));
      await this.connectors.markNatsRevoked(
        credentials.filter((c) => c.natsRevokedAt === null).map((c) => c.id),
        this.clock.now(),
      );
      return true;
    } catch (error) {
      this.logger.error(
        {
          event: 'connector.revocation.failed',
          connectors: credentials.map((c) => c.id),
          error: (error as Error).message,
        },
        `could not revoke connector credentials on the NATS server; retrying within ${RECONCILE_INTERVAL_MS / 60_000} minutes`,
      );
      return false;
    }
  }

  /** Every revoked connector's key is revoked on the server (adds only what is missing). */
  async reconcile(): Promise<boolean> {
    return this.apply(await this.connectors.revokedCredentials());
  }

  onApplicationBootstrap(): void {
    if (!this.revoker) {
      this.logger.warn(
        { event: 'connector.revocation.not-enforced' },
        'LICENSING_NATS_OPERATOR_SIGNING_SEED / LICENSING_NATS_SYSTEM_CREDS are not set: revoking a connector ' +
          'stops its jobs but not its NATS credentials',
      );
      return;
    }
    const run = () =>
      void this.reconcile().catch((error: unknown) =>
        this.logger.error(
          { event: 'connector.revocation.reconcile-failed', error: (error as Error).message },
          'revocation reconcile failed',
        ),
      );
    run();
    this.timer = setInterval(run, RECONCILE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.revoker?.close();
  }
}
