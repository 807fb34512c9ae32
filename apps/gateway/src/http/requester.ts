import { ForbiddenException } from '@nestjs/common';
import type { Requester } from '@mlr/contracts';
import { principalOf, type AuthenticatedRequest } from '../auth/principal.js';
import type { ServiceClient } from '../services/service-client.js';

/**
 * Who asks, which mailboxes they may see and whether the connector's service account may act for
 * them, as the services need it for searches, restores, exports and backup plans; the one place that
 * decides it (ARCHITECTURE.md, "Who may do what"):
 * - a user sees the mailboxes of their token (their own and delegated ones), and the service account
 *   never acts for them: the connector acts with the mailbox owner's own credentials;
 * - a tenant admin sees every mailbox, and the service account acts for them, only while the
 *   connector concerned has "Receive As" (licensing `tenants.access`, from what enrolment found):
 *   `connectorId` when the request names one (a restore, a plan), else every connector in service of
 *   the tenant. Without it (`no`, `unknown`, no connector in service) they fall back to their own
 *   mailboxes and their own credentials, like a user;
 * - an operator sees no mail content at all.
 * The guard has already checked that the principal belongs to the route's tenant.
 */
export async function requesterOf(
  request: AuthenticatedRequest,
  services: ServiceClient,
  options: { connectorId?: string | undefined } = {},
): Promise<Requester> {
  return (await accessOf(request, services, options)).requester;
}

/** `requesterOf`, and whether the connector it was asked for is in service. */
export interface RequesterAccess {
  requester: Requester;
  /**
   * Whether the named connector is one of the tenant's connectors in service (enrolled, not
   * revoked); null when no connector was named or nobody was asked (users).
   */
  connectorInService: boolean | null;
}

export async function accessOf(
  request: AuthenticatedRequest,
  services: ServiceClient,
  options: { connectorId?: string | undefined } = {},
): Promise<RequesterAccess> {
  const principal = principalOf(request);
  const own: Requester = {
    actor: principal.sub,
    role: principal.role,
    visibleMailboxes: principal.mailboxes,
    serviceAccount: false,
  };
  switch (principal.role) {
    case 'operator':
      throw new ForbiddenException(
        'operators see no mail content: searches and restores are for tenant admins and users',
      );
    case 'user':
      return { requester: own, connectorInService: null };
    case 'tenant_admin': {
      if (principal.tenant === null) throw new ForbiddenException('a tenant admin token must name its tenant');
      const { connectorId } = options;
      const access = await services.call('licensing', 'tenants.access', {
        tenantId: principal.tenant,
        ...(connectorId === undefined ? {} : { connectorId }),
      });
      return {
        requester: access.receiveAs ? { ...own, visibleMailboxes: 'all', serviceAccount: true } : own,
        connectorInService: connectorId === undefined ? null : access.connectors.some((c) => c.id === connectorId),
      };
    }
  }
}
