import type { Request } from 'express';

/**
 * Who is asking, recorded on plans (`createdBy`) and jobs (`requestedBy`). The gateway has no
 * authentication yet, so every request acts as `api`; an authentication guard will attach the
 * principal to the request, and this is the one place that will read it.
 */
export function actorOf(request: Request & { principal?: { id: string } }): string {
  return request.principal?.id ?? 'api';
}
