import { MLR_FEATURE, type LicenceDocument, type LicenceStatus, type LicenceView } from '@mlr/contracts';

const DAY_MS = 86_400_000;

/** A licence as stored: the verified document's terms plus who imported it when. */
export interface LicenceRecord {
  serial: string;
  licensee: string;
  features: string[];
  maxTenants: number;
  maxProtectedMailboxes: number;
  issuedAt: Date;
  expiresAt: Date;
  graceDays: number;
  /** The canonical JSON the signature covers, verbatim. */
  document: string;
  signature: string;
  keyId: string;
  importedAt: Date;
  importedBy: string;
}

/** The terms of a licence record, as its signed document states them (the only source of terms). */
export function licenceTerms(
  document: LicenceDocument,
): Pick<
  LicenceRecord,
  'serial' | 'licensee' | 'features' | 'maxTenants' | 'maxProtectedMailboxes' | 'issuedAt' | 'expiresAt' | 'graceDays'
> {
  return {
    serial: document.serial,
    licensee: document.licensee,
    features: document.features,
    maxTenants: document.maxTenants,
    maxProtectedMailboxes: document.maxProtectedMailboxes,
    issuedAt: new Date(document.issuedAt),
    expiresAt: new Date(document.expiresAt),
    graceDays: document.graceDays,
  };
}

export function graceEndsAt(licence: Pick<LicenceRecord, 'expiresAt' | 'graceDays'>): Date {
  return new Date(licence.expiresAt.getTime() + licence.graceDays * DAY_MS);
}

/** Whole days from `now` to `until`, rounded up (a licence expiring in 2 h has 1 day left); 0 after it. */
function daysUntil(until: Date, now: Date): number {
  return Math.max(0, Math.ceil((until.getTime() - now.getTime()) / DAY_MS));
}

/** Valid until `expiresAt`, then in grace for `graceDays`, then expired (both ends exclusive of later states). */
export function licenceStatus(licence: Pick<LicenceRecord, 'expiresAt' | 'graceDays'>, now: Date): LicenceStatus {
  const ends = graceEndsAt(licence);
  const expires = licence.expiresAt.toISOString();
  const base = {
    daysLeft: daysUntil(licence.expiresAt, now),
    graceEndsAt: ends.toISOString(),
    graceDaysLeft: daysUntil(ends, now),
  };
  if (now < licence.expiresAt) {
    return { state: 'valid', ...base, message: `valid until ${expires} (${base.daysLeft} days left)` };
  }
  if (now < ends) {
    return {
      state: 'in_grace',
      ...base,
      message: `expired on ${expires}; in its grace period until ${base.graceEndsAt} (${base.graceDaysLeft} days left): import the renewed licence`,
    };
  }
  return {
    state: 'expired',
    ...base,
    message: `expired on ${expires}; its grace period ended on ${base.graceEndsAt}: import a renewed licence`,
  };
}

export function hasMlr(licence: Pick<LicenceRecord, 'features'>): boolean {
  return licence.features.includes(MLR_FEATURE);
}

export function licenceView(
  licence: LicenceRecord,
  now: Date,
  tenants: { total: number; mlrEnabled: number },
): LicenceView {
  return {
    serial: licence.serial,
    licensee: licence.licensee,
    features: licence.features,
    maxTenants: licence.maxTenants,
    maxProtectedMailboxes: licence.maxProtectedMailboxes,
    issuedAt: licence.issuedAt.toISOString(),
    expiresAt: licence.expiresAt.toISOString(),
    graceDays: licence.graceDays,
    keyId: licence.keyId,
    importedAt: licence.importedAt.toISOString(),
    importedBy: licence.importedBy,
    status: licenceStatus(licence, now),
    tenants,
  };
}
