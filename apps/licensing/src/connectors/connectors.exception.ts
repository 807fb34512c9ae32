import type { ServiceErrorReply } from '@mlr/contracts';
import { DomainException, type ReplyCodes, domainErrorReply, domainExceptionFilter } from '@mlr/runtime';
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

/** What callers are told for each connector code. */
const REPLY_CODES: ReplyCodes<ConnectorErrorCode> = {
  [ConnectorErrorCode.NATS_KEY_INVALID]: 'invalid_request',
  [ConnectorErrorCode.CONNECTOR_NOT_FOUND]: 'not_found',
  [ConnectorErrorCode.TOKEN_UNKNOWN]: 'forbidden',
  [ConnectorErrorCode.TOKEN_EXPIRED]: 'forbidden',
  [ConnectorErrorCode.TOKEN_USED]: 'forbidden',
  [ConnectorErrorCode.CONNECTOR_REVOKED]: 'forbidden',
  [ConnectorErrorCode.NAME_TAKEN]: 'conflict',
  [ConnectorErrorCode.NATS_KEY_TAKEN]: 'conflict',
  [ConnectorErrorCode.SIGNING_KEY_NOT_CONFIGURED]: 'conflict',
};

/** A connector request the licensing service refuses; `field` names the request field at fault. */
export class ConnectorException extends DomainException<ConnectorErrorCode> {
  override readonly name = 'ConnectorException';
}

/** The one place where connector codes become the service error replies callers understand. */
export function toServiceErrorReply(error: ConnectorException): ServiceErrorReply {
  return domainErrorReply(error, REPLY_CODES);
}

/** Sends connector (and licensing, e.g. invalid request or unknown tenant) refusals back as error replies. */
export const ConnectorExceptionFilter = domainExceptionFilter<ConnectorException | LicensingException>(
  [ConnectorException, LicensingException],
  (exception) =>
    exception instanceof ConnectorException ? toServiceErrorReply(exception) : licensingErrorReply(exception),
);
