import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';
import {
  DomainException,
  type ReplyCodes,
  describeInvalidRequest,
  domainErrorReply,
  domainExceptionFilter,
  parseOrRefuse,
} from '@mlr/runtime';

export enum LicensingErrorCode {
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** The licence is not a signed licence document of a format this build reads. */
  LICENCE_MALFORMED = 'LICENCE_MALFORMED',
  /** The signature does not match the document: it was changed after signing. */
  LICENCE_TAMPERED = 'LICENCE_TAMPERED',
  /** Signed by a vendor key this service does not trust. */
  LICENCE_WRONG_VENDOR_KEY = 'LICENCE_WRONG_VENDOR_KEY',
  /** This service has no vendor public key, so it cannot verify any licence. */
  VENDOR_KEY_NOT_CONFIGURED = 'VENDOR_KEY_NOT_CONFIGURED',
  /** Importing a licence whose grace period has already ended. */
  LICENCE_EXPIRED = 'LICENCE_EXPIRED',
  /** Importing a licence issued before the one in force, or a serial already used. */
  LICENCE_SUPERSEDED = 'LICENCE_SUPERSEDED',
  LICENCE_NOT_FOUND = 'LICENCE_NOT_FOUND',
  /** An operation the licence must allow, without a licence in force. */
  NO_LICENCE = 'NO_LICENCE',
  /** The licence in force expired and its grace period ended. */
  LICENCE_LAPSED = 'LICENCE_LAPSED',
  LICENCE_LACKS_FEATURE = 'LICENCE_LACKS_FEATURE',
  TENANT_LIMIT_REACHED = 'TENANT_LIMIT_REACHED',
  /** The licence's protected mailboxes are all in use (MLR cannot be enabled for another tenant). */
  MAILBOX_LIMIT_REACHED = 'MAILBOX_LIMIT_REACHED',
  TENANT_NOT_FOUND = 'TENANT_NOT_FOUND',
  SLUG_TAKEN = 'SLUG_TAKEN',
}

/** What callers are told for each licensing code. */
const REPLY_CODES: ReplyCodes<LicensingErrorCode> = {
  [LicensingErrorCode.INVALID_REQUEST]: 'invalid_request',
  [LicensingErrorCode.LICENCE_MALFORMED]: 'invalid_request',
  [LicensingErrorCode.LICENCE_TAMPERED]: 'invalid_request',
  [LicensingErrorCode.LICENCE_WRONG_VENDOR_KEY]: 'invalid_request',
  [LicensingErrorCode.LICENCE_EXPIRED]: 'invalid_request',
  [LicensingErrorCode.LICENCE_NOT_FOUND]: 'not_found',
  [LicensingErrorCode.TENANT_NOT_FOUND]: 'not_found',
  [LicensingErrorCode.VENDOR_KEY_NOT_CONFIGURED]: 'conflict',
  [LicensingErrorCode.LICENCE_SUPERSEDED]: 'conflict',
  [LicensingErrorCode.NO_LICENCE]: 'conflict',
  [LicensingErrorCode.LICENCE_LAPSED]: 'conflict',
  [LicensingErrorCode.LICENCE_LACKS_FEATURE]: 'conflict',
  [LicensingErrorCode.TENANT_LIMIT_REACHED]: 'conflict',
  [LicensingErrorCode.MAILBOX_LIMIT_REACHED]: 'conflict',
  [LicensingErrorCode.SLUG_TAKEN]: 'conflict',
};

/** A request the licensing service refuses; `field` names the request field at fault. */
export class LicensingException extends DomainException<LicensingErrorCode> {
  override readonly name = 'LicensingException';

  static fromZod(what: string, error: z.ZodError): LicensingException {
    const { message, field, problems } = describeInvalidRequest(what, error, '(body)');
    return new LicensingException(LicensingErrorCode.INVALID_REQUEST, message, field, problems);
  }
}

/** The one place where licensing codes become the service error replies callers understand. */
export function toServiceErrorReply(error: LicensingException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends a LicensingException back to the caller as its structured error reply. */
export const LicensingExceptionFilter = domainExceptionFilter([LicensingException], toServiceErrorReply);

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  return parseOrRefuse(schema, data, (error) => LicensingException.fromZod(what, error));
}
