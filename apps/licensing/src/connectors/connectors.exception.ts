import { defineDomainErrors, domainErrorsFilter } from '@mlr/runtime';
import { licensingErrors } from '../common/licensing.exception.js';

/** Connector requests the licensing service refuses; `field` names the request field at fault. */
const connectorErrors = defineDomainErrors({
  name: 'ConnectorException',
  replyCodes: {
    /** The public key is not a valid NATS user NKey. */
    NATS_KEY_INVALID: 'invalid_request',
    CONNECTOR_NOT_FOUND: 'not_found',
    /** No connector was created with this enrolment token (mistyped, or never issued here). */
    TOKEN_UNKNOWN: 'forbidden',
    /** The token's validity ended before it was used. */
    TOKEN_EXPIRED: 'forbidden',
    /** The token was used already (single use): a replay, or a second connector with the same token. */
    TOKEN_USED: 'forbidden',
    /** The connector was revoked: its token and credentials are void. */
    CONNECTOR_REVOKED: 'forbidden',
    /** Another connector of the tenant has this name. */
    NAME_TAKEN: 'conflict',
    /** Another connector already enrolled with this NATS public key. */
    NATS_KEY_TAKEN: 'conflict',
    /** The agent's mail source is not the kind the connector was created for. */
    KIND_MISMATCH: 'conflict',
    /** The tenant's backups are sealed with another tenant key than the one the agent would use. */
    TENANT_KEY_MISMATCH: 'conflict',
    /** The agent's tenant key is recorded as another tenant's (one key belongs to one tenant). */
    TENANT_KEY_OF_ANOTHER_TENANT: 'conflict',
    /** This service has no NATS account signing key, so it cannot issue connector credentials. */
    SIGNING_KEY_NOT_CONFIGURED: 'conflict',
  },
});
export const {
  codes: ConnectorErrorCode,
  Exception: ConnectorException,
  toReply: toServiceErrorReply,
} = connectorErrors;
export type ConnectorErrorCode = keyof typeof ConnectorErrorCode;
export type ConnectorException = InstanceType<typeof ConnectorException>;

/** Sends connector (and licensing, e.g. invalid request or unknown tenant) refusals back as error replies. */
export const ConnectorExceptionFilter = domainErrorsFilter(connectorErrors, licensingErrors);
