import { HttpException, HttpStatus } from '@nestjs/common';
import type { AuditEventInput } from '@mlr/contracts';
import type { Principal } from '../auth/principal.js';
import { httpStatusOf } from '../http/service-error.filter.js';
import { ServiceRefusal } from '../services/service-client.js';
import type { AuditedRoute } from './audit.decorators.js';

const PATH_TARGETS: ReadonlyArray<[param: string, kind: string]> = [
  ['jobId', 'job'],
  ['planId', 'plan'],
  ['connectorId', 'connector'],
  ['restoreId', 'restore'],
  ['tenantId', 'tenant'],
];

/** The default target: the most specific id of the path, else the id the result names. */
export function defaultTarget(params: Record<string, string>, result: unknown): string | null {
  for (const [param, kind] of PATH_TARGETS) {
    if (params[param]) return `${kind}:${params[param]}`;
  }
  if (result && typeof result === 'object') {
    const { id, jobId } = result as { id?: unknown; jobId?: unknown };
    if (typeof jobId === 'string') return `job:${jobId}`;
    if (typeof id === 'string') return id;
  }
  return null;
}

/** The HTTP status an error becomes (filters map service refusals the same way). */
export function statusOfError(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  if (error instanceof ServiceRefusal) return httpStatusOf(error.reply.code);
  return HttpStatus.SERVICE_UNAVAILABLE;
}

export type RouteOutcome = { ok: true; result: unknown } | { ok: false; error: unknown };

/**
 * The audit event of one call of an audited route. The tenant is the principal's own (a refused
 * attempt on another tenant is kept with the actor's tenant and names the tenant asked for in its
 * detail, so that no tenant admin reads about people of another tenant); an operator's event
 * belongs to the tenant of the path, or to the platform.
 */
export function auditEventOf(input: {
  route: AuditedRoute;
  principal: Principal;
  method: string;
  path: string;
  params: Record<string, string>;
  notes: Record<string, unknown>;
  outcome: RouteOutcome;
}): AuditEventInput {
  const { route, principal, params, outcome } = input;
  const pathTenant = params['tenantId'] ?? null;
  const tenantId = principal.role === 'operator' ? pathTenant : principal.tenant;
  const result = outcome.ok ? outcome.result : undefined;
  const target = (route.target ?? defaultTarget)(params, result);
  const detail: Record<string, unknown> = { request: `${input.method} ${input.path}`, ...input.notes };
  if (pathTenant !== null && pathTenant !== tenantId) detail['requestedTenant'] = pathTenant;
  if (outcome.ok) {
    return {
      tenantId,
      actor: principal.sub,
      role: principal.role,
      action: route.action,
      target,
      outcome: 'success',
      detail,
    };
  }
  const status = statusOfError(outcome.error);
  detail['status'] = status;
  detail['reason'] = reasonOf(outcome.error);
  return {
    tenantId,
    actor: principal.sub,
    role: principal.role,
    action: route.action,
    target,
    outcome: status === HttpStatus.FORBIDDEN ? 'denied' : 'failure',
    detail,
  };
}

function reasonOf(error: unknown): string {
  if (error instanceof HttpException) {
    const response = error.getResponse();
    if (typeof response === 'object' && response !== null && 'message' in response) {
      const message = (response as { message: unknown }).message;
      return Array.isArray(message) ? message.join('; ') : String(message);
    }
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
