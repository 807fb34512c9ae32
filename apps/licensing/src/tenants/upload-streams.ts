import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { LEGACY_CHUNKS_STREAM } from '@mlr/contracts';
import {
  describeError,
  ensureTenantChunksStream,
  isStreamNotFound,
  UploadQuotaUnavailableError,
  type DeclareAction,
  type MessagingConnection,
} from '@mlr/messaging';
import { LOGGER, MESSAGING, PeriodicTask } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';
import { TENANT_REPOSITORY, uploadQuotaOf, type TenantRepository } from './tenants.repository.js';

export interface UploadStreamSettings {
  /** The quota of tenants without one of their own. */
  defaultBytes: number;
  /** How often every tenant with MLR enabled is checked for its chunk stream. */
  checkEveryMs: number;
}

export const UPLOAD_STREAM_SETTINGS = Symbol('UPLOAD_STREAM_SETTINGS');

export interface UploadStreamsCheck {
  /** Tenants whose stream was created or whose quota was changed to the recorded one. */
  declared: string[];
  /** Tenants whose stream could not be declared, with why. */
  failed: Array<{ tenantId: string; error: string }>;
}

/**
 * Licensing owns the tenants' chunk streams (`MLR_CHUNKS_<tenant>`, see `tenantChunksStreamSpec`):
 * their byte limit is the tenant's upload quota, which licensing records. A stream is declared when
 * MLR is enabled and when the operator sets the quota (refused, saying why, when NATS cannot reserve
 * it), and every tenant with MLR enabled is checked at start-up and every few minutes (a NATS that
 * lost its store, a declaration that failed). A tenant whose MLR is disabled keeps its stream:
 * uploads in flight still reach storage. At the first start after the upgrade to per-tenant
 * streams, the one chunk stream of all tenants (`MLR_CHUNKS`) is removed first: it overlaps theirs.
 */
@Injectable()
export class TenantUploadStreams implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodicCheck: PeriodicTask;
  private legacyRemoved: Promise<void> | undefined;
  /** Quotas this process has declared (or found) each tenant's stream with. */
  private readonly declared = new Map<string, number>();
  private readonly logger: Logger;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(TENANT_REPOSITORY) private readonly tenants: TenantRepository,
    @Inject(UPLOAD_STREAM_SETTINGS) private readonly settings: UploadStreamSettings,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'upload-streams' });
    this.periodicCheck = new PeriodicTask(() => this.checkAll(), {
      everyMs: settings.checkEveryMs,
      immediately: true,
      onError: (error) =>
        this.logger.warn(
          { event: 'upload-streams.check-failed', error: describeError(error) },
          "tenants' chunk streams not checked",
        ),
    });
  }

  onApplicationBootstrap(): void {
    this.periodicCheck.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodicCheck.stop();
  }

  get defaultBytes(): number {
    return this.settings.defaultBytes;
  }

  /**
   * Declares the tenant's chunk stream with `bytes` as its byte limit (creates it, or changes the
   * limit). Throws a LicensingException (conflict) when NATS cannot reserve that many bytes.
   */
  async declare(tenantId: string, bytes: number): Promise<void> {
    try {
      const action = await this.apply(tenantId, bytes);
      if (action !== 'unchanged') {
        this.logger.info(
          { event: `upload-stream.${action}`, tenantId, quotaBytes: bytes },
          `chunk stream of the tenant ${action} with its upload quota`,
        );
      }
    } catch (error) {
      if (error instanceof UploadQuotaUnavailableError) {
        throw new LicensingException(LicensingErrorCode.UPLOAD_QUOTA_UNAVAILABLE, `bytes: ${error.message}`, 'bytes');
      }
      throw error;
    }
  }

  /**
   * Declares the tenant's stream unless this process already did with that quota: asked before each
   * job (`tenant.status`), so that a tenant enabled some other way (an upgrade, a restored database)
   * has its stream before its connector uploads, without waiting for the next check.
   */
  async ensure(tenantId: string, bytes: number): Promise<void> {
    if (this.declared.get(tenantId) === bytes) return;
    await this.declare(tenantId, bytes);
  }

  /** Declares the stream of every tenant with MLR enabled, with its recorded quota. */
  async checkAll(): Promise<UploadStreamsCheck> {
    const outcome: UploadStreamsCheck = { declared: [], failed: [] };
    await this.removeLegacyStream();
    for (const tenant of await this.tenants.mlrEnabled()) {
      const bytes = uploadQuotaOf(tenant, this.settings.defaultBytes);
      try {
        if ((await this.apply(tenant.id, bytes)) !== 'unchanged') outcome.declared.push(tenant.id);
      } catch (error) {
        outcome.failed.push({ tenantId: tenant.id, error: (error as Error).message });
        this.logger.error(
          { event: 'upload-stream.failed', tenantId: tenant.id, quotaBytes: bytes, error: describeError(error) },
          "the tenant's chunk stream cannot be declared: its connectors cannot upload large messages until it is",
        );
      }
    }
    if (outcome.declared.length > 0) {
      this.logger.info(
        { event: 'upload-streams.declared', tenants: outcome.declared },
        "tenants' chunk streams created or set to their quotas",
      );
    }
    return outcome;
  }

  /** Declares the stream (after the old shared one is gone) and remembers the quota it has. */
  private async apply(tenantId: string, bytes: number): Promise<DeclareAction> {
    await this.removeLegacyStream();
    const action = await ensureTenantChunksStream(this.messaging, tenantId, bytes);
    this.declared.set(tenantId, bytes);
    return action;
  }

  /** Removes the chunk stream of all tenants from before upload quotas, once per process. */
  private removeLegacyStream(): Promise<void> {
    this.legacyRemoved ??= (async () => {
      const jsm = await this.messaging.manager();
      let messages: number;
      try {
        messages = (await jsm.streams.info(LEGACY_CHUNKS_STREAM)).state.messages;
      } catch (error) {
        if (isStreamNotFound(error)) return;
        throw error;
      }
      await jsm.streams.delete(LEGACY_CHUNKS_STREAM);
      this.logger.warn(
        { event: 'upload-streams.legacy-removed', stream: LEGACY_CHUNKS_STREAM, chunks: messages },
        `removed the chunk stream of all tenants (${messages} chunks) for the tenants' own streams: ` +
          'messages whose chunks it held are reported failed and backed up by the next run',
      );
    })().catch((error: unknown) => {
      this.legacyRemoved = undefined;
      throw error;
    });
    return this.legacyRemoved;
  }
}
