import { defineDomainErrors } from '@mlr/runtime';

/** Requests the licensing service refuses; `field` names the request field at fault. */
export const licensingErrors = defineDomainErrors({
  name: 'LicensingException',
  replyCodes: {
    INVALID_REQUEST: 'invalid_request',
    /** The licence is not a signed licence document of a format this build reads. */
    LICENCE_MALFORMED: 'invalid_request',
    /** The signature does not match the document: it was changed after signing. */
    LICENCE_TAMPERED: 'invalid_request',
    /** Signed by a vendor key this service does not trust. */
    LICENCE_WRONG_VENDOR_KEY: 'invalid_request',
    /** Importing a licence whose grace period has already ended. */
    LICENCE_EXPIRED: 'invalid_request',
    LICENCE_NOT_FOUND: 'not_found',
    TENANT_NOT_FOUND: 'not_found',
    /** This service has no vendor public key, so it cannot verify any licence. */
    VENDOR_KEY_NOT_CONFIGURED: 'conflict',
    /** Importing a licence issued before the one in force, or a serial already used. */
    LICENCE_SUPERSEDED: 'conflict',
    /** An operation the licence must allow, without a licence in force. */
    NO_LICENCE: 'conflict',
    /** The licence in force expired and its grace period ended. */
    LICENCE_LAPSED: 'conflict',
    LICENCE_LACKS_FEATURE: 'conflict',
    TENANT_LIMIT_REACHED: 'conflict',
    /** The licence's protected mailboxes are all in use (MLR cannot be enabled for another tenant). */
    MAILBOX_LIMIT_REACHED: 'conflict',
    SLUG_TAKEN: 'conflict',
    /** A service the answer is asked of (scheduling, storage) could not be reached or did not answer. */
    SERVICE_UNAVAILABLE: 'unavailable',
    /** NATS cannot reserve the upload quota in its JetStream file store (the other tenants' quotas fill it). */
    UPLOAD_QUOTA_UNAVAILABLE: 'conflict',
  },
  invalidRequest: { code: 'INVALID_REQUEST', wholeRequest: '(body)' },
});
export const {
  codes: LicensingErrorCode,
  Exception: LicensingException,
  toReply: toServiceErrorReply,
  Filter: LicensingExceptionFilter,
  parse: parseRequest,
} = licensingErrors;
export type LicensingErrorCode = keyof typeof LicensingErrorCode;
export type LicensingException = InstanceType<typeof LicensingException>;
