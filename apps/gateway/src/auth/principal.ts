import type { Request } from 'express';
import type { PrincipalRole } from '@mlr/contracts';

/** Who is calling, as their verified token says. */
export interface Principal {
  /** The token's subject (user id or e-mail); recorded as the actor of plans, jobs and audit events. */
  sub: string;
  role: PrincipalRole;
  /** The tenant of a tenant admin or user; null for an operator. */
  tenant: string | null;
  /** Their own and delegated mailboxes, lower case. */
  mailboxes: string[];
}

/** A request the authentication guard has let through carries its principal. */
export type AuthenticatedRequest = Request & { principal?: Principal };

/** The principal the guard attached; a route that reaches here without one is a wiring mistake. */
export function principalOf(request: AuthenticatedRequest): Principal {
  if (!request.principal) {
    throw new Error(`${request.method} ${request.path} ran without an authenticated principal (is it @Public?)`);
  }
  return request.principal;
}
