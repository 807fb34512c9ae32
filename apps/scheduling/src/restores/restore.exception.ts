import { defineDomainErrors } from '@mlr/runtime';

/** Restore requests the scheduling service refuses; `field` names the request field at fault. */
export const {
  codes: RestoreErrorCode,
  Exception: RestoreException,
  toReply: toServiceErrorReply,
  Filter: RestoreExceptionFilter,
  parse: parseRestoreRequest,
} = defineDomainErrors({
  name: 'RestoreException',
  replyCodes: {
    /** The request does not match its contract, or cannot be done as asked (e.g. nothing to restore). */
    INVALID_REQUEST: 'invalid_request',
    /** The named connector is not an enrolled, unrevoked connector of the tenant; or none was named and the tenant has not exactly one. */
    CONNECTOR_NOT_FOUND: 'invalid_request',
    /** Licensing, which keeps the tenant's connectors, could not be asked. */
    LICENSING_UNAVAILABLE: 'unavailable',
    /** The selection has more records than one restore may have. */
    TOO_MANY_ITEMS: 'invalid_request',
    /** Some of the given record ids are not records of the tenant. */
    RECORDS_NOT_FOUND: 'not_found',
    /** The job does not exist for the tenant, or is no restore or export. */
    JOB_NOT_FOUND: 'not_found',
    /** The requester's role may not do this restore (operators never; users not into other mailboxes). */
    FORBIDDEN: 'forbidden',
    /**
     * The agent would act with the connector's service account for someone it may not act for (a
     * user, or a tenant admin without "Receive As"): they restore with their own credentials instead.
     */
    OWN_CREDENTIALS_REQUIRED: 'forbidden',
    /** Licensing does not allow jobs of the tenant. */
    MLR_NOT_ALLOWED: 'conflict',
  },
  invalidRequest: { code: 'INVALID_REQUEST' },
});
export type RestoreErrorCode = keyof typeof RestoreErrorCode;
export type RestoreException = InstanceType<typeof RestoreException>;
