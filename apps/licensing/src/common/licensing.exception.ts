import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ServiceErrorReply } from '@mlr/contracts';

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

/** A request the licensing service refuses; `field` names the request field at fault. */
export class LicensingException extends Error {
  override readonly name = 'LicensingException';

  constructor(
    readonly code: LicensingErrorCode,
    message: string,
    readonly field?: string,
    readonly problems?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }

  static fromZod(what: string, error: z.ZodError): LicensingException {
    const problems = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const text = problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ');
    return new LicensingException(
      LicensingErrorCode.INVALID_REQUEST,
      `invalid ${what}: ${text}`,
      problems[0]?.path || undefined,
      problems,
    );
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled licensing error code ${String(value)}`);
}

/** The one place where domain codes become the service error replies the gateway understands. */
export function toServiceErrorReply(error: LicensingException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
    ...(error.problems ? { problems: [...error.problems] } : {}),
  });
  switch (error.code) {
    case LicensingErrorCode.INVALID_REQUEST:
    case LicensingErrorCode.LICENCE_MALFORMED:
    case LicensingErrorCode.LICENCE_TAMPERED:
    case LicensingErrorCode.LICENCE_WRONG_VENDOR_KEY:
    case LicensingErrorCode.LICENCE_EXPIRED:
      return reply('invalid_request');
    case LicensingErrorCode.LICENCE_NOT_FOUND:
    case LicensingErrorCode.TENANT_NOT_FOUND:
      return reply('not_found');
    case LicensingErrorCode.VENDOR_KEY_NOT_CONFIGURED:
    case LicensingErrorCode.LICENCE_SUPERSEDED:
    case LicensingErrorCode.NO_LICENCE:
    case LicensingErrorCode.LICENCE_LAPSED:
    case LicensingErrorCode.LICENCE_LACKS_FEATURE:
    case LicensingErrorCode.TENANT_LIMIT_REACHED:
    case LicensingErrorCode.MAILBOX_LIMIT_REACHED:
    case LicensingErrorCode.SLUG_TAKEN:
      return reply('conflict');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends a LicensingException back to the caller as its structured error reply. */
@Catch(LicensingException)
export class LicensingExceptionFilter implements RpcExceptionFilter<LicensingException> {
  catch(exception: LicensingException): Observable<never> {
    return throwError(() => toServiceErrorReply(exception));
  }
}

/** Validates a request against its schema; a bad one becomes INVALID_REQUEST naming every bad field. */
export function parseRequest<T extends z.ZodType>(what: string, schema: T, data: unknown): z.output<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw LicensingException.fromZod(what, result.error);
  return result.data;
}
