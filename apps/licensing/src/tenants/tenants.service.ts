import { Inject, Injectable } from '@nestjs/common';
import type { ObjectLayout, TenantMlrStatus, TenantView } from '@mlr/contracts';
import { isUniqueViolation } from '@mlr/db';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, type Clock } from '../common/clock.js';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';
import { mlrEnableRefusal, mlrStatus, tenantCreationRefusal } from './mlr-policy.js';
import {
  TENANT_REPOSITORY,
  tenantView,
  uploadQuotaOf,
  type TenantRecord,
  type TenantRepository,
} from './tenants.repository.js';
import { TenantUploadStreams } from './upload-streams.js';

export function tenantNotFound(tenantId: string): LicensingException {
  return new LicensingException(
    LicensingErrorCode.TENANT_NOT_FOUND,
    `tenantId: there is no tenant ${tenantId}`,
    'tenantId',
  );
}

@Injectable()
export class TenantsService {
  private readonly logger: Logger;

  constructor(
    @Inject(TENANT_REPOSITORY) private readonly tenants: TenantRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TenantUploadStreams) private readonly uploadStreams: TenantUploadStreams,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'tenants' });
  }

  async create(input: { name: string; slug: string; objectLayout: ObjectLayout }, actor: string): Promise<TenantView> {
    const taken = await this.tenants.bySlug(input.slug);
    if (taken) throw slugTaken(input.slug, taken.id);
    let tenant: TenantRecord;
    try {
      const now = this.clock.now();
      tenant = await this.tenants.create(input, now, (snapshot) => {
        const refusal = tenantCreationRefusal(snapshot, now);
        if (refusal) throw refusal;
      });
    } catch (error) {
      // Another operator took the slug between the check above and the insert.
      if (isUniqueViolation(error)) {
        const winner = await this.tenants.bySlug(input.slug);
        if (winner) throw slugTaken(input.slug, winner.id);
      }
      throw this.refused('tenant.create', actor, error);
    }
    this.logger.info(
      { event: 'tenant.created', tenantId: tenant.id, slug: tenant.slug, objectLayout: tenant.objectLayout, actor },
      'tenant created',
    );
    return this.view(tenant);
  }

  async list(limit: number, after: string | undefined): Promise<{ tenants: TenantView[]; next: string | null }> {
    const tenants = await this.tenants.list(limit, after);
    const last = tenants.at(-1);
    return {
      tenants: tenants.map((tenant) => this.view(tenant)),
      next: tenants.length === limit && last ? last.slug : null,
    };
  }

  async get(tenantId: string): Promise<TenantView> {
    const tenant = await this.tenants.get(tenantId);
    if (!tenant) throw tenantNotFound(tenantId);
    return this.view(tenant);
  }

  async enableMlr(tenantId: string, actor: string): Promise<TenantView> {
    let tenant: TenantRecord | null;
    try {
      const now = this.clock.now();
      tenant = await this.tenants.enableMlr(tenantId, actor, now, (current, snapshot) => {
        const refusal = mlrEnableRefusal(current, snapshot, now);
        if (refusal) throw refusal;
      });
    } catch (error) {
      throw this.refused('tenant.mlr.enable', actor, error, tenantId);
    }
    if (!tenant) throw tenantNotFound(tenantId);
    // Its connectors upload large messages into its own chunk stream: declared now (and checked
    // every few minutes, should this fail while NATS is away).
    await this.uploadStreams.declare(tenant.id, uploadQuotaOf(tenant, this.uploadStreams.defaultBytes));
    this.logger.info({ event: 'tenant.mlr.enabled', tenantId, actor }, 'MLR enabled');
    return this.view(tenant);
  }

  async disableMlr(tenantId: string, actor: string): Promise<TenantView> {
    const tenant = await this.tenants.disableMlr(tenantId, this.clock.now());
    if (!tenant) throw tenantNotFound(tenantId);
    this.logger.info({ event: 'tenant.mlr.disabled', tenantId, actor }, 'MLR disabled');
    return this.view(tenant);
  }

  /**
   * Sets the tenant's upload quota (null: the platform default). The chunk stream of a tenant with
   * MLR enabled gets it first, so that a quota NATS cannot reserve is refused and nothing recorded.
   */
  async setUploadQuota(tenantId: string, bytes: number | null, actor: string): Promise<TenantView> {
    const current = await this.tenants.get(tenantId);
    if (!current) throw tenantNotFound(tenantId);
    const wanted = bytes ?? this.uploadStreams.defaultBytes;
    if (current.mlrEnabled) {
      try {
        await this.uploadStreams.declare(tenantId, wanted);
      } catch (error) {
        throw this.refused('tenant.upload-quota.set', actor, error, tenantId);
      }
    }
    const tenant = await this.tenants.setUploadQuota(tenantId, bytes);
    if (!tenant) throw tenantNotFound(tenantId);
    this.logger.info(
      {
        event: 'tenant.upload-quota.set',
        tenantId,
        actor,
        quotaBytes: wanted,
        isDefault: bytes === null,
        previousBytes: uploadQuotaOf(current, this.uploadStreams.defaultBytes),
      },
      'upload quota set',
    );
    return this.view(tenant);
  }

  async status(tenantId: string): Promise<TenantMlrStatus> {
    const now = this.clock.now();
    const { tenant, licence, licenceProblem, protectedMailboxes, protectedMailboxesStale } =
      await this.tenants.statusInputs(tenantId, now);
    if (protectedMailboxesStale) {
      this.logger.warn(
        { event: 'protected-mailboxes.stale', tenantId, protectedMailboxes, error: protectedMailboxesStale },
        "scheduling could not be asked for the protected mailboxes: the licence's limit is checked against its last count",
      );
    }
    const uploadQuotaBytes = tenant
      ? uploadQuotaOf(tenant, this.uploadStreams.defaultBytes)
      : this.uploadStreams.defaultBytes;
    const status = {
      ...mlrStatus(tenantId, tenant, licence, now, protectedMailboxes, licenceProblem),
      uploadQuotaBytes,
    };
    if (tenant?.mlrEnabled) {
      // Asked before each job: the tenant's chunk stream must be there before its connector uploads.
      await this.uploadStreams
        .ensure(tenantId, uploadQuotaBytes)
        .catch((error: unknown) =>
          this.logger.warn(
            { event: 'upload-stream.failed', tenantId, quotaBytes: uploadQuotaBytes, error: (error as Error).message },
            "the tenant's chunk stream cannot be declared: its connectors wait before uploading large messages",
          ),
        );
    }
    if (licenceProblem && tenant?.mlrEnabled) {
      this.logger.warn(
        { event: 'tenant.status.refused', reason: 'licence_unverified', tenantId, detail: licenceProblem },
        status.message,
      );
    }
    return status;
  }

  /**
   * Sets the tenant's default Object Lock retention (null: the platform's). It applies to what
   * storage writes from then on (storage asks for it at most a minute later); what is written stays
   * locked as written.
   */
  async setObjectRetention(tenantId: string, days: number | null, actor: string): Promise<TenantView> {
    const current = await this.tenants.get(tenantId);
    if (!current) throw tenantNotFound(tenantId);
    const tenant = await this.tenants.setObjectRetention(tenantId, days);
    if (!tenant) throw tenantNotFound(tenantId);
    this.logger.info(
      { event: 'tenant.object-retention.set', tenantId, actor, days, previousDays: current.objectRetentionDays },
      'default object retention set',
    );
    return this.view(tenant);
  }

  private view(tenant: TenantRecord): TenantView {
    return tenantView(tenant, this.uploadStreams.defaultBytes);
  }

  /** Logs a refusal of the licence (operators' attempts beyond it are worth seeing) and passes it on. */
  private refused(action: string, actor: string, error: unknown, tenantId?: string): unknown {
    if (error instanceof LicensingException) {
      this.logger.warn({ event: `${action}.refused`, code: error.code, tenantId, actor }, error.message);
    }
    return error;
  }
}

function slugTaken(slug: string, tenantId: string): LicensingException {
  return new LicensingException(
    LicensingErrorCode.SLUG_TAKEN,
    `slug: "${slug}" is already the slug of tenant ${tenantId}`,
    'slug',
  );
}
