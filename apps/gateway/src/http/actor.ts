import type { AuthenticatedRequest } from '../auth/principal.js';
import { principalOf } from '../auth/principal.js';

/**
 * Who is asking, recorded on plans (`createdBy`), jobs (`requestedBy`), licences, tenants and audit
 * events: the subject of the caller's verified token. Only routes behind the authentication guard
 * call this; a public route has no actor.
 */
export function actorOf(request: AuthenticatedRequest): string {
  return principalOf(request).sub;
}
