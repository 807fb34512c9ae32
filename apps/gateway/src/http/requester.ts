import type { Request } from 'express';
import type { Requester } from '@mlr/contracts';
import { actorOf } from './actor.js';

/**
 * Who asks and what they may see, as the services need it for searches and restores. Until the
 * authentication guard attaches a principal (issue 5), every request acts as a tenant admin that sees
 * every mailbox; this is the one place that turns the principal into a `Requester`.
 */
export function requesterOf(request: Request & { principal?: { id: string } }): Requester {
  return { actor: actorOf(request), role: 'tenant_admin', visibleMailboxes: 'all' };
}
