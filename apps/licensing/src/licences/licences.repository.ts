import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type Prisma, type PrismaClient } from '@mlr/db';
import type { LicenceRecord } from './licence.js';
import {
  VENDOR_KEY,
  loadLicenceInForce,
  readStoredLicence,
  type LicenceInForce,
  type StoredLicence,
} from './licence-in-force.js';
import type { VendorKey } from './licence-signature.js';

export type Tx = Prisma.TransactionClient;
export type { StoredLicence } from './licence-in-force.js';

/** What `importLicence` should do, decided by the caller from the state under the lock. */
export type ImportDecision = 'import' | 'unchanged';

export interface ImportOutcome {
  outcome: 'imported' | 'unchanged';
  licence: LicenceRecord;
  /**
   * The stored licence of the same serial did not verify (its row or document had been changed)
   * and was overwritten with the imported one; null otherwise.
   */
  replacedUnverified: string | null;
}

export interface LicenceRepository {
  /**
   * The licence in force, verified with the vendor key: the latest import not superseded, or why
   * it is not in force (it does not verify); licence and problem both null when none was imported.
   */
  current(): Promise<LicenceInForce>;
  /** Tenants in all, and tenants with MLR enabled. */
  tenantCounts(): Promise<{ total: number; mlrEnabled: number }>;
  /**
   * In one transaction holding the licensing lock: shows `decide` the licence in force and any
   * stored licence with the same serial (both only when they verify: one that does not is no
   * licence); on `import` stores `licence` and supersedes the one in force. A stored licence of
   * the same serial that does not verify is overwritten. `decide` refuses by throwing.
   */
  importLicence(
    licence: LicenceRecord,
    decide: (current: LicenceRecord | null, sameSerial: StoredLicence | null) => ImportDecision,
  ): Promise<ImportOutcome>;
}

export const LICENCE_REPOSITORY = Symbol('LICENCE_REPOSITORY');

/**
 * One lock for everything the licence limits (imports, new tenants, MLR enablement): the counts a
 * decision reads cannot change before the decision is written. Held until the transaction ends.
 */
export async function lockLicensing(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('mlr.licensing.limits'))`;
}

export async function countTenants(tx: Tx | PrismaClient): Promise<{ total: number; mlrEnabled: number }> {
  // One after the other: inside a transaction the queries share one connection anyway.
  const total = await tx.tenant.count();
  const mlrEnabled = await tx.tenant.count({ where: { mlrEnabled: true } });
  return { total, mlrEnabled };
}

@Injectable()
export class PrismaLicenceRepository implements LicenceRepository {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(VENDOR_KEY) private readonly vendorKey: VendorKey | null,
  ) {}

  current(): Promise<LicenceInForce> {
    return loadLicenceInForce(this.prisma, this.vendorKey);
  }

  tenantCounts(): Promise<{ total: number; mlrEnabled: number }> {
    return countTenants(this.prisma);
  }

  async importLicence(
    licence: LicenceRecord,
    decide: (current: LicenceRecord | null, sameSerial: StoredLicence | null) => ImportDecision,
  ): Promise<ImportOutcome> {
    return this.prisma.$transaction(async (tx) => {
      await lockLicensing(tx);
      const current = await loadLicenceInForce(tx, this.vendorKey);
      const sameSerialRow = await tx.licence.findUnique({ where: { serial: licence.serial } });
      const sameSerial = sameSerialRow ? readStoredLicence(sameSerialRow, this.vendorKey) : null;
      if (decide(current.licence, sameSerial?.verified ? sameSerial.licence : null) === 'unchanged') {
        return { outcome: 'unchanged' as const, licence: current.licence ?? licence, replacedUnverified: null };
      }
      await tx.licence.updateMany({ where: { supersededAt: null }, data: { supersededAt: licence.importedAt } });
      const data = {
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
        supersededAt: null,
      };
      if (sameSerialRow && sameSerial && !sameSerial.verified) {
        // The serial is taken by a row that no longer verifies: the genuine licence replaces it.
        await tx.licence.update({ where: { id: sameSerialRow.id }, data });
        return { outcome: 'imported' as const, licence, replacedUnverified: sameSerial.problem };
      }
      await tx.licence.create({ data });
      return { outcome: 'imported' as const, licence, replacedUnverified: null };
    });
  }
}
