import { MLR_FEATURE, type TenantMlrStatus } from '@mlr/contracts';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';
import { hasMlr, licenceStatus, type LicenceRecord } from '../licences/licence.js';

/*
 * What the licence allows, decided from a snapshot taken under the licensing lock (so that two
 * operators enabling the last free slot at once cannot both succeed). Pure: the caller supplies
 * the licence in force, the counts and the time.
 */

export interface LimitsSnapshot {
  /**
   * The licence in force (the latest imported, not superseded, verified with the vendor key); null
   * when none was ever imported or the stored one does not verify.
   */
  licence: LicenceRecord | null;
  /** Why the stored licence is not in force although one was imported (it does not verify). */
  licenceProblem: string | null;
  tenants: number;
  mlrTenants: number;
  /** Protected mailboxes of all tenants with MLR enabled (last 30 days). */
  protectedMailboxes: number;
}

export interface TenantRef {
  id: string;
  slug: string;
  mlrEnabled: boolean;
}

const describe = (licence: LicenceRecord) => `licence ${licence.serial} (${licence.licensee})`;

function lapsed(licence: LicenceRecord, now: Date): LicensingException | null {
  const status = licenceStatus(licence, now);
  if (status.state !== 'expired') return null;
  return new LicensingException(LicensingErrorCode.LICENCE_LAPSED, `${describe(licence)} ${status.message}`);
}

/** `refused`: the sentence's subject when a stored licence does not verify (`problem`). */
function noLicence(action: string, refused: string, problem: string | null): LicensingException {
  return new LicensingException(
    LicensingErrorCode.NO_LICENCE,
    problem
      ? `${refused}: no valid licence is in force: ${problem}`
      : `no licence has been imported: import the vendor's signed licence (POST /v1/licence) before ${action}`,
  );
}

/** Why a new tenant may not be created now; null when it may. */
export function tenantCreationRefusal(snapshot: LimitsSnapshot, now: Date): LicensingException | null {
  const { licence } = snapshot;
  if (!licence) return noLicence('creating tenants', 'tenants cannot be created', snapshot.licenceProblem);
  const expired = lapsed(licence, now);
  if (expired) return expired;
  if (snapshot.tenants + 1 > licence.maxTenants) {
    return new LicensingException(
      LicensingErrorCode.TENANT_LIMIT_REACHED,
      `tenant limit reached: ${describe(licence)} allows ${licence.maxTenants} tenants and there are already ${snapshot.tenants}`,
    );
  }
  return null;
}

/** Why MLR may not be enabled for `tenant` now; null when it may (or already is). */
export function mlrEnableRefusal(tenant: TenantRef, snapshot: LimitsSnapshot, now: Date): LicensingException | null {
  const { licence } = snapshot;
  const subject = `MLR cannot be enabled for tenant ${tenant.slug}`;
  if (!licence) return noLicence(`enabling MLR (tenant ${tenant.slug})`, subject, snapshot.licenceProblem);
  const expired = lapsed(licence, now);
  if (expired) return new LicensingException(expired.code, `${subject}: ${expired.message}`);
  if (!hasMlr(licence)) {
    return new LicensingException(
      LicensingErrorCode.LICENCE_LACKS_FEATURE,
      `${subject}: ${describe(licence)} does not include the "${MLR_FEATURE}" feature (it has: ${
        licence.features.length ? licence.features.join(', ') : 'none'
      })`,
    );
  }
  if (tenant.mlrEnabled) return null;
  if (snapshot.protectedMailboxes >= licence.maxProtectedMailboxes) {
    return new LicensingException(
      LicensingErrorCode.MAILBOX_LIMIT_REACHED,
      `${subject}: ${describe(licence)} allows ${licence.maxProtectedMailboxes} protected mailboxes and ${snapshot.protectedMailboxes} are already protected; import a licence with a higher limit or disable MLR for another tenant`,
    );
  }
  if (snapshot.mlrTenants + 1 > licence.maxTenants) {
    return new LicensingException(
      LicensingErrorCode.TENANT_LIMIT_REACHED,
      `${subject}: ${describe(licence)} allows MLR for ${licence.maxTenants} tenants and ${snapshot.mlrTenants} already have it enabled; disable MLR for another tenant or import a licence with a higher limit`,
    );
  }
  return null;
}

/**
 * May jobs of the tenant run? Only with MLR enabled, and not while the licence in force lacks the
 * feature or is past its grace period. A tenant enabled without any licence ever imported (only
 * possible by writing the database directly, as test fixtures and the demo do) is allowed; one
 * whose stored licence does not verify (`licenceProblem`) is not: a licence made unreadable must
 * not lift its own limits. The contract has no reason of its own for that yet, so it is reported
 * as `licence_lacks_mlr` (no licence granting MLR is in force), with the problem in the message.
 */
export function mlrStatus(
  tenantId: string,
  tenant: TenantRef | null,
  licence: LicenceRecord | null,
  now: Date,
  protectedMailboxes = 0,
  licenceProblem: string | null = null,
): Omit<TenantMlrStatus, 'uploadQuotaBytes'> {
  const licenceState = licence ? licenceStatus(licence, now) : null;
  const common = {
    tenantId,
    mlrEnabled: tenant?.mlrEnabled ?? false,
    licence: licenceState?.state ?? 'none',
    protectedMailboxes: { count: protectedMailboxes, limit: licence?.maxProtectedMailboxes ?? null },
    backupAllowed: false,
  } as const;
  if (!tenant) {
    return { ...common, allowed: false, reason: 'tenant_not_found', message: `tenant ${tenantId} does not exist` };
  }
  if (!tenant.mlrEnabled) {
    return {
      ...common,
      allowed: false,
      reason: 'mlr_disabled',
      message: `MLR is not enabled for tenant ${tenant.slug}: an operator must enable it before backup or restore jobs can run`,
    };
  }
  if (!licence && licenceProblem) {
    return {
      ...common,
      allowed: false,
      reason: 'licence_lacks_mlr',
      message: `MLR is enabled for tenant ${tenant.slug}, but no valid licence is in force: ${licenceProblem}`,
    };
  }
  if (licence && licenceState?.state === 'expired') {
    return {
      ...common,
      allowed: false,
      reason: 'licence_expired',
      message: `MLR is enabled for tenant ${tenant.slug}, but ${describe(licence)} ${licenceState.message}`,
    };
  }
  if (licence && !hasMlr(licence)) {
    return {
      ...common,
      allowed: false,
      reason: 'licence_lacks_mlr',
      message: `MLR is enabled for tenant ${tenant.slug}, but ${describe(licence)} does not include the "${MLR_FEATURE}" feature`,
    };
  }
  const note =
    licence && licenceState?.state === 'in_grace' ? `; note: ${describe(licence)} ${licenceState.message}` : '';
  if (licence && protectedMailboxes > licence.maxProtectedMailboxes) {
    // Over the limit, the mail already protected must stay recoverable: restores run, backups do not.
    return {
      ...common,
      allowed: true,
      backupAllowed: false,
      reason: 'mailbox_limit_exceeded',
      message: `backups of tenant ${tenant.slug} are refused: ${protectedMailboxes} mailboxes are protected and ${describe(licence)} allows ${licence.maxProtectedMailboxes}; restores still run${note}`,
    };
  }
  return {
    ...common,
    allowed: true,
    backupAllowed: true,
    reason: null,
    message: `MLR is enabled for tenant ${tenant.slug}${note}`,
  };
}
