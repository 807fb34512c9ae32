import { defineDomainErrors } from '@mlr/runtime';

/** Requests the scheduling service refuses; `field` names the request field at fault. */
export const {
  codes: SchedulingErrorCode,
  Exception: SchedulingException,
  toReply: toServiceErrorReply,
  Filter: SchedulingExceptionFilter,
  parse: parseRequest,
} = defineDomainErrors({
  name: 'SchedulingException',
  replyCodes: {
    INVALID_REQUEST: 'invalid_request',
    INVALID_SCHEDULE: 'invalid_request',
    CONNECTOR_NOT_FOUND: 'invalid_request',
    PLAN_NOT_FOUND: 'not_found',
    JOB_NOT_FOUND: 'not_found',
    PLAN_NAME_TAKEN: 'conflict',
    PLAN_DISABLED: 'conflict',
    /** Licensing does not allow jobs of the tenant (MLR not enabled, licence expired or without MLR). */
    MLR_NOT_ALLOWED: 'conflict',
    /** The plan's connector was revoked: it takes no jobs. */
    CONNECTOR_REVOKED: 'conflict',
    /** Licensing, which the answer needs (e.g. the tenant's connectors), could not be asked. */
    LICENSING_UNAVAILABLE: 'unavailable',
  },
  invalidRequest: { code: 'INVALID_REQUEST', wholeRequest: '(body)' },
});
export type SchedulingErrorCode = keyof typeof SchedulingErrorCode;
export type SchedulingException = InstanceType<typeof SchedulingException>;
