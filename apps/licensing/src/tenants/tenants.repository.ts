import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type PrismaClient } from '@mlr/db';
import type { ObjectLayout, TenantView } from '@mlr/contracts';
import type { LicenceRecord } from '../licences/licence.js';
import { VENDOR_KEY, loadLicenceInForce } from '../licences/licence-in-force.js';
import type { VendorKey } from '../licences/licence-signature.js';
import { countTenants, lockLicensing, type Tx } from '../licences/licences.repository.js';
import type { LimitsSnapshot } from './mlr-policy.js';
import { SERVICE_USAGE, type ServiceUsage } from '../usage/service-usage.js';

export interface TenantRecord {
  id: string;
  name: string;
  slug: string;
  mlrEnabled: boolean;
  enabledAt: Date | null;
  enabledBy: string | null;
  disabledAt: Date | null;
  tenantKeyId: string | null;
  objectLayout: ObjectLayout;
  /** Set by the operator; null for the platform default. */
  uploadQuotaBytes: bigint | null;
  /** The operator's default Object Lock retention in days; null for the platform's. */
  objectRetentionDays: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TenantRepository {
  get(tenantId: string): Promise<TenantRecord | null>;
  bySlug(slug: string): Promise<TenantRecord | null>;
  /** Tenants ordered by slug, after `after` (exclusive). */
  list(limit: number, after: string | undefined): Promise<TenantRecord[]>;
  /**
   * The tenant (or null), the licence in force (or why the stored one is not: it does not verify)
   * and the protected mailboxes at `now`, for `tenants.status`.
   */
  statusInputs(tenantId: string, now: Date): Promise<StatusInputs>;
  /**
   * Creates the tenant in one transaction holding the licensing lock, after `check` has seen the
   * licence and the counts at `now` (it refuses by throwing).
   */
  create(
    input: { name: string; slug: string; objectLayout: ObjectLayout },
    now: Date,
    check: (snapshot: LimitsSnapshot) => void,
  ): Promise<TenantRecord>;
  /**
   * Enables MLR under the licensing lock after `check` has seen the tenant, the licence and the
   * counts; enabling an enabled tenant changes nothing. Null when the tenant does not exist.
   */
  enableMlr(
    tenantId: string,
    actor: string,
    now: Date,
    check: (tenant: TenantRecord, snapshot: LimitsSnapshot) => void,
  ): Promise<TenantRecord | null>;
  /** Disables MLR (a disabled tenant stays as it is). Null when the tenant does not exist. */
  disableMlr(tenantId: string, now: Date): Promise<TenantRecord | null>;
  /** Records the tenant's upload quota (null: the platform default). Null when the tenant does not exist. */
  setUploadQuota(tenantId: string, bytes: number | null): Promise<TenantRecord | null>;
  /** Sets the tenant's default Object Lock retention (null: the platform's); null when there is no such tenant. */
  setObjectRetention(tenantId: string, days: number | null): Promise<TenantRecord | null>;
  /** The tenants with MLR enabled, with their quotas (whose chunk streams must exist). */
  mlrEnabled(): Promise<Array<Pick<TenantRecord, 'id' | 'uploadQuotaBytes'>>>;
}

export interface StatusInputs {
  tenant: TenantRecord | null;
  licence: LicenceRecord | null;
  /** Why the stored licence is not in force (it does not verify); null when it is or none was imported. */
  licenceProblem: string | null;
  protectedMailboxes: number;
  /**
   * Set when scheduling could not be asked for the protected mailboxes: why, and that the count is
   * the last one it gave (or 0 when it never answered), so that an outage of scheduling does not
   * stop every job of every tenant.
   */
  protectedMailboxesStale?: string;
}

export const TENANT_REPOSITORY = Symbol('TENANT_REPOSITORY');

/** How long `tenants.status` waits for scheduling's count before it goes on with the last one. */
const PROTECTED_COUNT_TIMEOUT_MS = 2_000;

/** The upload quota in force for a tenant (its own, or the platform default). */
export function uploadQuotaOf(tenant: Pick<TenantRecord, 'uploadQuotaBytes'>, defaultBytes: number): number {
  return tenant.uploadQuotaBytes === null ? defaultBytes : Number(tenant.uploadQuotaBytes);
}

export function tenantView(tenant: TenantRecord, defaultUploadQuotaBytes: number): TenantView {
  return {
    id: tenant.id,
    name: tenant.name,
    slug: tenant.slug,
    mlrEnabled: tenant.mlrEnabled,
    enabledAt: tenant.enabledAt?.toISOString() ?? null,
    enabledBy: tenant.enabledBy,
    disabledAt: tenant.disabledAt?.toISOString() ?? null,
    tenantKeyId: tenant.tenantKeyId,
    objectLayout: tenant.objectLayout,
    uploadQuota: {
      bytes: uploadQuotaOf(tenant, defaultUploadQuotaBytes),
      isDefault: tenant.uploadQuotaBytes === null,
    },
    objectRetentionDays: tenant.objectRetentionDays,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

const tenantColumns = {
  id: true,
  name: true,
  slug: true,
  mlrEnabled: true,
  enabledAt: true,
  enabledBy: true,
  disabledAt: true,
  tenantKeyId: true,
  objectLayout: true,
  uploadQuotaBytes: true,
  objectRetentionDays: true,
  createdAt: true,
  updatedAt: true,
} as const;

/**
 * Protected mailboxes of the tenants with MLR enabled (what `maxProtectedMailboxes` limits), from
 * scheduling's per-tenant answer and licensing's own view of which tenants have MLR.
 */
async function countProtectedMailboxes(
  db: Pick<PrismaClient, 'tenant'> | Tx,
  perTenant: ReadonlyMap<string, number>,
): Promise<number> {
  if (perTenant.size === 0) return 0;
  const enabled = await db.tenant.findMany({
    where: { mlrEnabled: true, id: { in: [...perTenant.keys()] } },
    select: { id: true },
  });
  return enabled.reduce((sum, tenant) => sum + (perTenant.get(tenant.id) ?? 0), 0);
}

async function snapshot(
  tx: Tx,
  vendorKey: VendorKey | null,
  protectedPerTenant: ReadonlyMap<string, number>,
): Promise<LimitsSnapshot> {
  const { licence, problem } = await loadLicenceInForce(tx, vendorKey);
  const counts = await countTenants(tx);
  const protectedMailboxes = await countProtectedMailboxes(tx, protectedPerTenant);
  return {
    licence,
    licenceProblem: problem,
    tenants: counts.total,
    mlrTenants: counts.mlrEnabled,
    protectedMailboxes,
  };
}

@Injectable()
export class PrismaTenantRepository implements TenantRepository {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(VENDOR_KEY) private readonly vendorKey: VendorKey | null,
    @Inject(SERVICE_USAGE) private readonly services: ServiceUsage,
  ) {}

  /** The last count scheduling's answer gave, and when: `statusInputs` uses it through an outage of scheduling. */
  private lastProtected: { count: number; at: number } | undefined;

  get(tenantId: string): Promise<TenantRecord | null> {
    return this.prisma.tenant.findUnique({ where: { id: tenantId }, select: tenantColumns });
  }

  bySlug(slug: string): Promise<TenantRecord | null> {
    return this.prisma.tenant.findUnique({ where: { slug }, select: tenantColumns });
  }

  list(limit: number, after: string | undefined): Promise<TenantRecord[]> {
    return this.prisma.tenant.findMany({
      where: after === undefined ? {} : { slug: { gt: after } },
      orderBy: { slug: 'asc' },
      take: limit,
      select: tenantColumns,
    });
  }

  async statusInputs(tenantId: string, now: Date): Promise<StatusInputs> {
    const [tenant, inForce] = await Promise.all([this.get(tenantId), loadLicenceInForce(this.prisma, this.vendorKey)]);
    const inputs = { tenant, licence: inForce.licence, licenceProblem: inForce.problem };
    // Counted only when a limit applies: scheduling reads the backups of the last 30 days.
    if (!inForce.licence || !tenant?.mlrEnabled) return { ...inputs, protectedMailboxes: 0 };
    const last = this.lastProtected;
    try {
      // Shorter than scheduling's wait for this answer (its MLR gate waits 3 s).
      const perTenant = await this.services.protectedMailboxes(now, undefined, PROTECTED_COUNT_TIMEOUT_MS);
      const protectedMailboxes = await countProtectedMailboxes(this.prisma, perTenant);
      this.lastProtected = { count: protectedMailboxes, at: Date.now() };
      return { ...inputs, protectedMailboxes };
    } catch (error) {
      return {
        ...inputs,
        protectedMailboxes: last?.count ?? 0,
        protectedMailboxesStale: (error as Error).message,
      };
    }
  }

  create(
    input: { name: string; slug: string; objectLayout: ObjectLayout },
    now: Date,
    check: (snapshot: LimitsSnapshot) => void,
  ): Promise<TenantRecord> {
    return this.prisma.$transaction(async (tx) => {
      await lockLicensing(tx);
      // Creating a tenant is limited by the number of tenants only: no mailbox of it is protected yet.
      check(await snapshot(tx, this.vendorKey, new Map()));
      return tx.tenant.create({
        data: { name: input.name, slug: input.slug, objectLayout: input.objectLayout },
        select: tenantColumns,
      });
    });
  }

  async enableMlr(
    tenantId: string,
    actor: string,
    now: Date,
    check: (tenant: TenantRecord, snapshot: LimitsSnapshot) => void,
  ): Promise<TenantRecord | null> {
    // Asked before the transaction (scheduling answers over NATS); refused when it cannot be asked.
    const protectedPerTenant = await this.services.protectedMailboxes(now);
    return this.prisma.$transaction(async (tx) => {
      await lockLicensing(tx);
      const tenant = await tx.tenant.findUnique({ where: { id: tenantId }, select: tenantColumns });
      if (!tenant) return null;
      check(tenant, await snapshot(tx, this.vendorKey, protectedPerTenant));
      if (tenant.mlrEnabled) return tenant;
      return tx.tenant.update({
        where: { id: tenantId },
        data: { mlrEnabled: true, enabledAt: now, enabledBy: actor, disabledAt: null },
        select: tenantColumns,
      });
    });
  }

  async disableMlr(tenantId: string, now: Date): Promise<TenantRecord | null> {
    // Only an enabled tenant changes, so that repeating the request keeps the first disabledAt.
    await this.prisma.tenant.updateMany({
      where: { id: tenantId, mlrEnabled: true },
      data: { mlrEnabled: false, disabledAt: now },
    });
    return this.get(tenantId);
  }

  async setUploadQuota(tenantId: string, bytes: number | null): Promise<TenantRecord | null> {
    const { count } = await this.prisma.tenant.updateMany({
      where: { id: tenantId },
      data: { uploadQuotaBytes: bytes === null ? null : BigInt(bytes) },
    });
    return count === 0 ? null : this.get(tenantId);
  }

  async setObjectRetention(tenantId: string, days: number | null): Promise<TenantRecord | null> {
    const { count } = await this.prisma.tenant.updateMany({
      where: { id: tenantId },
      data: { objectRetentionDays: days },
    });
    return count === 0 ? null : this.get(tenantId);
  }

  mlrEnabled(): Promise<Array<Pick<TenantRecord, 'id' | 'uploadQuotaBytes'>>> {
    return this.prisma.tenant.findMany({
      where: { mlrEnabled: true },
      orderBy: { id: 'asc' },
      select: { id: true, uploadQuotaBytes: true },
    });
  }
}
