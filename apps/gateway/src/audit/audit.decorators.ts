import { SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

export const AUDITED_ROUTE = 'mlr:audit:action';

/** What the audit trail says about a route: the action, and how to name its target. */
export interface AuditedRoute {
  /** Dotted verb, e.g. `search`, `plan.create`, `tenant.mlr.enable`. */
  action: string;
  /**
   * The target of the event, from the path parameters or the result (e.g. the created plan). By
   * default the most specific id in the path (`plan:<id>`, `job:<id>`, `connector:<id>`,
   * `tenant:<id>`), else the `id` or `jobId` of the result.
   */
  target?: (params: Record<string, string>, result: unknown) => string | null;
}

/**
 * Every call of this route is written to the audit trail (who, what, when, tenant, outcome):
 * `success`, `denied` (403, including the guard's refusals) or `failure` (any other error).
 */
export const Audited = (action: string, options: Omit<AuditedRoute, 'action'> = {}): MethodDecorator =>
  SetMetadata(AUDITED_ROUTE, { action, ...options } satisfies AuditedRoute);

const DETAIL = Symbol('mlr:audit:detail');

/** Adds facts to the audit event of the current request (criteria, scope); never mail content. */
export function noteAudit(request: Request, detail: Record<string, unknown>): void {
  const holder = request as Request & { [DETAIL]?: Record<string, unknown> };
  holder[DETAIL] = { ...holder[DETAIL], ...detail };
}

export function auditNotes(request: Request): Record<string, unknown> {
  return (request as Request & { [DETAIL]?: Record<string, unknown> })[DETAIL] ?? {};
}
