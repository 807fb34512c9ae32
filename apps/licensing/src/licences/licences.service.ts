import { Inject, Injectable } from '@nestjs/common';
import type { LicenceView, SignedLicence } from '@mlr/contracts';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, type Clock } from '../common/clock.js';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';
import { licenceTerms, licenceView, type LicenceRecord } from './licence.js';
import { verifyLicence, type LicenceRefusalReason, type VendorKey } from './licence-signature.js';
import { VENDOR_KEY } from './licence-in-force.js';
import { LICENCE_REPOSITORY, type LicenceRepository, type StoredLicence } from './licences.repository.js';

export { VENDOR_KEY } from './licence-in-force.js';

const refusalCodes: Record<LicenceRefusalReason, LicensingErrorCode> = {
  malformed: LicensingErrorCode.LICENCE_MALFORMED,
  tampered: LicensingErrorCode.LICENCE_TAMPERED,
  wrong_vendor_key: LicensingErrorCode.LICENCE_WRONG_VENDOR_KEY,
  expired: LicensingErrorCode.LICENCE_EXPIRED,
};

/** Field paths of the licence refusal, as the caller sent them (inside `licence`). */
const inLicence = (path: string | undefined) => (path ? `licence.${path}` : 'licence');

@Injectable()
export class LicencesService {
  private readonly logger: Logger;

  constructor(
    @Inject(LICENCE_REPOSITORY) private readonly licences: LicenceRepository,
    @Inject(VENDOR_KEY) private readonly vendorKey: VendorKey | null,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'licences' });
  }

  /**
   * Verifies and stores a signed licence; it supersedes the one in force. Importing the licence in
   * force again changes nothing (a retried import succeeds); an older one, or a serial reused with
   * other content, is refused.
   */
  async import(signed: SignedLicence, actor: string): Promise<LicenceView> {
    if (!this.vendorKey) {
      throw new LicensingException(
        LicensingErrorCode.VENDOR_KEY_NOT_CONFIGURED,
        'this licensing service has no vendor public key (LICENSING_VENDOR_PUBLIC_KEY), so it cannot verify licences',
      );
    }
    const now = this.clock.now();
    const verification = verifyLicence(signed, this.vendorKey, now);
    if (!verification.ok) {
      this.logger.warn(
        { event: 'licence.refused', reason: verification.reason, actor, detail: verification.message },
        'licence import refused',
      );
      throw new LicensingException(
        refusalCodes[verification.reason],
        verification.message,
        inLicence(verification.field),
        verification.problems?.map((p) => ({ path: inLicence(p.path), message: p.message })),
      );
    }
    const { document, canonical, signature, keyId } = verification.licence;
    const candidate: LicenceRecord = {
      ...licenceTerms(document),
      document: canonical,
      signature,
      keyId,
      importedAt: now,
      importedBy: actor,
    };
    const { outcome, licence, replacedUnverified } = await this.licences.importLicence(
      candidate,
      (current, sameSerial) => decideImport(candidate, current, sameSerial),
    );
    if (replacedUnverified) {
      this.logger.warn(
        { event: 'licence.unverified.replaced', serial: licence.serial, actor, detail: replacedUnverified },
        'the stored licence of this serial did not verify; the imported licence replaced it',
      );
    }
    this.logger.info(
      {
        event: outcome === 'imported' ? 'licence.imported' : 'licence.reimported',
        serial: licence.serial,
        licensee: licence.licensee,
        features: licence.features,
        expiresAt: licence.expiresAt.toISOString(),
        actor,
      },
      outcome === 'imported' ? 'licence imported' : 'licence in force imported again; nothing changed',
    );
    return licenceView(licence, now, await this.licences.tenantCounts());
  }

  async get(): Promise<LicenceView> {
    const { licence, problem } = await this.licences.current();
    if (problem) {
      this.logger.warn({ event: 'licence.unverified', detail: problem }, 'the stored licence does not verify');
      throw new LicensingException(LicensingErrorCode.LICENCE_NOT_FOUND, `no valid licence is in force: ${problem}`);
    }
    if (!licence) {
      throw new LicensingException(
        LicensingErrorCode.LICENCE_NOT_FOUND,
        "no licence has been imported yet: import the vendor's signed licence (POST /v1/licence)",
      );
    }
    return licenceView(licence, this.clock.now(), await this.licences.tenantCounts());
  }
}

/** Import, keep, or refuse `candidate`, given the licence in force and any stored licence of the same serial. */
export function decideImport(
  candidate: LicenceRecord,
  current: LicenceRecord | null,
  sameSerial: StoredLicence | null,
): 'import' | 'unchanged' {
  if (sameSerial) {
    const identical = sameSerial.document === candidate.document && sameSerial.signature === candidate.signature;
    if (!identical) {
      throw new LicensingException(
        LicensingErrorCode.LICENCE_SUPERSEDED,
        `licence serial ${candidate.serial} was already imported with different content on ${sameSerial.importedAt.toISOString()}`,
        'licence.document.serial',
      );
    }
    if (sameSerial.supersededAt) {
      throw new LicensingException(
        LicensingErrorCode.LICENCE_SUPERSEDED,
        `licence ${candidate.serial} was imported on ${sameSerial.importedAt.toISOString()} and superseded on ${sameSerial.supersededAt.toISOString()}; import a newer licence`,
        'licence.document.serial',
      );
    }
    return 'unchanged';
  }
  if (current && candidate.issuedAt < current.issuedAt) {
    throw new LicensingException(
      LicensingErrorCode.LICENCE_SUPERSEDED,
      `licence ${candidate.serial} was issued on ${candidate.issuedAt.toISOString()}, before licence ${current.serial} in force (issued ${current.issuedAt.toISOString()}); import a newer licence`,
      'licence.document.issuedAt',
    );
  }
  return 'import';
}
