import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type Prisma, type PrismaClient } from '@mlr/db';
import { licenceDocumentSchema } from '@mlr/contracts';
import type { LicenceRecord } from './licence.js';

export type Tx = Prisma.TransactionClient;

/** A stored licence, with when (if ever) a newer import replaced it. */
export interface StoredLicence extends LicenceRecord {
  supersededAt: Date | null;
}

/** What `importLicence` should do, decided by the caller from the state under the lock. */
export type ImportDecision = 'import' | 'unchanged';

export interface LicenceRepository {
  /** The licence in force: the latest import not superseded; null when none was ever imported. */
  current(): Promise<LicenceRecord | null>;
  /** Tenants in all, and tenants with MLR enabled. */
  tenantCounts(): Promise<{ total: number; mlrEnabled: number }>;
  /**
   * In one transaction holding the licensing lock: shows `decide` the licence in force and any
   * stored licence with the same serial; on `import` stores `licence` and supersedes the one in force.
   * `decide` refuses by throwing.
   */
  importLicence(
    licence: LicenceRecord,
    decide: (current: LicenceRecord | null, sameSerial: StoredLicence | null) => ImportDecision,
  ): Promise<{ outcome: 'imported' | 'unchanged'; licence: LicenceRecord }>;
}

export const LICENCE_REPOSITORY = Symbol('LICENCE_REPOSITORY');

/**
 * One lock for everything the licence limits (imports, new tenants, MLR enablement): the counts a
 * decision reads cannot change before the decision is written. Held until the transaction ends.
 */
export async function lockLicensing(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('mlr.licensing.limits'))`;
}

type LicenceRow = Awaited<ReturnType<PrismaClient['licence']['findFirstOrThrow']>>;

function licenceFromRow(row: LicenceRow): StoredLicence {
  // Grace days live only in the signed document (stored verbatim), which is the source of truth.
  const document = licenceDocumentSchema.parse(JSON.parse(row.document));
  return {
    serial: row.serial,
    licensee: row.licensee,
    features: row.features,
    maxTenants: row.maxTenants ?? document.maxTenants,
    maxProtectedMailboxes: row.maxProtectedMailboxes ?? document.maxProtectedMailboxes,
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    graceDays: document.graceDays,
    document: row.document,
    signature: row.signature,
    keyId: row.signingKeyId,
    importedAt: row.importedAt,
    importedBy: row.importedBy,
    supersededAt: row.supersededAt,
  };
}

/** The licence in force as seen inside `tx`. */
export async function currentLicence(tx: Tx | PrismaClient): Promise<LicenceRecord | null> {
  const row = await tx.licence.findFirst({ where: { supersededAt: null }, orderBy: { importedAt: 'desc' } });
  return row ? licenceFromRow(row) : null;
}

/** Days a mailbox stays "protected" after its last backup (the metering window of the licence). */
export const PROTECTED_WINDOW_DAYS = 30;

/**
 * Protected mailboxes of all tenants with MLR enabled: distinct mailboxes with a record backed up
 * (or seen again) in the last 30 days. What the licence's `maxProtectedMailboxes` limits.
 */
export async function countProtectedMailboxes(tx: Tx | PrismaClient, now: Date): Promise<number> {
  const since = new Date(now.getTime() - PROTECTED_WINDOW_DAYS * 86_400_000);
  const rows = await tx.$queryRaw<Array<{ mailboxes: bigint }>>`
    SELECT count(*)::bigint AS mailboxes FROM (
      SELECT DISTINCT r.tenant_id, r.mailbox
        FROM index_records r JOIN tenants t ON t.id = r.tenant_id
       WHERE t.mlr_enabled AND r.updated_at >= ${since}
    ) protected`;
  return Number(rows[0]?.mailboxes ?? 0);
}

export async function countTenants(tx: Tx | PrismaClient): Promise<{ total: number; mlrEnabled: number }> {
  // One after the other: inside a transaction the queries share one connection anyway.
  const total = await tx.tenant.count();
  const mlrEnabled = await tx.tenant.count({ where: { mlrEnabled: true } });
  return { total, mlrEnabled };
}

@Injectable()
export class PrismaLicenceRepository implements LicenceRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  current(): Promise<LicenceRecord | null> {
    return currentLicence(this.prisma);
  }

  tenantCounts(): Promise<{ total: number; mlrEnabled: number }> {
    return countTenants(this.prisma);
  }

  async importLicence(
    licence: LicenceRecord,
    decide: (current: LicenceRecord | null, sameSerial: StoredLicence | null) => ImportDecision,
  ): Promise<{ outcome: 'imported' | 'unchanged'; licence: LicenceRecord }> {
    return this.prisma.$transaction(async (tx) => {
      await lockLicensing(tx);
      const current = await currentLicence(tx);
      const sameSerialRow = await tx.licence.findUnique({ where: { serial: licence.serial } });
      const sameSerial = sameSerialRow ? licenceFromRow(sameSerialRow) : null;
      if (decide(current, sameSerial) === 'unchanged') {
        return { outcome: 'unchanged' as const, licence: current ?? licence };
      }
      await tx.licence.updateMany({ where: { supersededAt: null }, data: { supersededAt: licence.importedAt } });
      await tx.licence.create({
        data: {
          serial: licence.serial,
          document: licence.document,
          signature: licence.signature,
          signingKeyId: licence.keyId,
          licensee: licence.licensee,
          features: licence.features,
          maxTenants: licence.maxTenants,
          maxProtectedMailboxes: licence.maxProtectedMailboxes,
          issuedAt: licence.issuedAt,
          expiresAt: licence.expiresAt,
          importedAt: licence.importedAt,
          importedBy: licence.importedBy,
        },
      });
      return { outcome: 'imported' as const, licence };
    });
  }
}
