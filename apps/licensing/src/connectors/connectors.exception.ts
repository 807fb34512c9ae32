import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { ServiceErrorReply } from '@mlr/contracts';
import { LicensingException, toServiceErrorReply as licensingErrorReply } from '../common/licensing.exception.js';

export enum ConnectorErrorCode {
  CONNECTOR_NOT_FOUND = 'CONNECTOR_NOT_FOUND',
  /** Another connector of the tenant has this name. */
  NAME_TAKEN = 'NAME_TAKEN',
  /** No connector was created with this enrolment token (mistyped, or never issued here). */
  TOKEN_UNKNOWN = 'TOKEN_UNKNOWN',
  /** The token's validity ended before it was used. */
  TOKEN_EXPIRED = 'TOKEN_EXPIRED',
  /** The token was used already (single use): a replay, or a second connector with the same token. */
  TOKEN_USED = 'TOKEN_USED',
  /** The connector was revoked: its token and credentials are void. */
  CONNECTOR_REVOKED = 'CONNECTOR_REVOKED',
  /** Another connector already enrolled with this NATS public key. */
  NATS_KEY_TAKEN = 'NATS_KEY_TAKEN',
  /** The public key is not a valid NATS user NKey. */
  NATS_KEY_INVALID = 'NATS_KEY_INVALID',
  /** This service has no NATS account signing key, so it cannot issue connector credentials. */
  SIGNING_KEY_NOT_CONFIGURED = 'SIGNING_KEY_NOT_CONFIGURED',
}

/** A connector request the licensing service refuses; `field` names the request field at fault. */
export class ConnectorException extends Error {
  override readonly name = 'ConnectorException';

  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unhandled connector error code ${String(value)}`);
}

/** The one place where connector codes become the service error replies the gateway understands. */
export function toServiceErrorReply(error: ConnectorException): ServiceErrorReply {
  const reply = (code: ServiceErrorReply['code']): ServiceErrorReply => ({
    code,
    message: error.message,
    ...(error.field ? { field: error.field } : {}),
  });
  switch (error.code) {
    case ConnectorErrorCode.NATS_KEY_INVALID:
      return reply('invalid_request');
    case ConnectorErrorCode.CONNECTOR_NOT_FOUND:
      return reply('not_found');
    // The token is the caller's only credential: a bad one is a refusal, whatever is wrong with it.
    case ConnectorErrorCode.TOKEN_UNKNOWN:
    case ConnectorErrorCode.TOKEN_EXPIRED:
    case ConnectorErrorCode.TOKEN_USED:
    case ConnectorErrorCode.CONNECTOR_REVOKED:
      return reply('forbidden');
    case ConnectorErrorCode.NAME_TAKEN:
    case ConnectorErrorCode.NATS_KEY_TAKEN:
    case ConnectorErrorCode.SIGNING_KEY_NOT_CONFIGURED:
      return reply('conflict');
    default:
      return assertUnreachable(error.code);
  }
}

/** Sends connector (and licensing, e.g. invalid request or unknown tenant) refusals back as error replies. */
@Catch(ConnectorException, LicensingException)
export class ConnectorExceptionFilter implements RpcExceptionFilter<ConnectorException | LicensingException> {
  catch(exception: ConnectorException | LicensingException): Observable<never> {
    const reply =
      exception instanceof ConnectorException ? toServiceErrorReply(exception) : licensingErrorReply(exception);
    return throwError(() => reply);
  }
}
