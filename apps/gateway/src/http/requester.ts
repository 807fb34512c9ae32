import { ForbiddenException } from '@nestjs/common';
import type { Requester } from '@mlr/contracts';
import { principalOf, type AuthenticatedRequest } from '../auth/principal.js';
import type { ServiceClient } from '../services/service-client.js';

/**
 * Who asks and which mailboxes they may see, as the services need it for searches, restores and
 * exports; the one place that decides it (ARCHITECTURE.md, "Who may do what"):
 * - a user sees the mailboxes of their token (their own and delegated ones);
 * - a tenant admin sees every mailbox only while the tenant's connectors' service account has
 *   "Receive As" (licensing `tenants.access`, from what enrolment found); without it (`no`, `unknown`,
 *   no connector) they fall back to their own mailboxes, like a user;
 * - an operator sees no mail content at all.
 * The guard has already checked that the principal belongs to the route's tenant.
 */
export async function requesterOf(request: AuthenticatedRequest, services: ServiceClient): Promise<Requester> {
  const principal = principalOf(request);
  const own = { actor: principal.sub, role: principal.role, visibleMailboxes: principal.mailboxes };
  switch (principal.role) {
    case 'operator':
      throw new ForbiddenException(
        'operators see no mail content: searches and restores are for tenant admins and users',
      );
    case 'user':
      return own;
    case 'tenant_admin': {
      if (principal.tenant === null) throw new ForbiddenException('a tenant admin token must name its tenant');
      const access = await services.call('licensing', 'tenants.access', { tenantId: principal.tenant });
      return access.receiveAs ? { ...own, visibleMailboxes: 'all' } : own;
    }
  }
}
