import type { TenantAccess } from '@mlr/contracts';
import type { ConnectorCapability } from './access.repository.js';

/**
 * What a tenant admin of `tenantId` may reach. "Receive As" is a property of each connector's service
 * account: the admin sees every mailbox only when the tenant has connectors and every one of them
 * said `yes` at enrolment. One `no` or `unknown` (or no connector at all) keeps the admin to their
 * own mailboxes: doubt never widens access.
 */
export function tenantAccess(tenantId: string, connectors: readonly ConnectorCapability[]): TenantAccess {
  return {
    tenantId,
    receiveAs: connectors.length > 0 && connectors.every((connector) => connector.receiveAs === 'yes'),
    connectors: connectors.map((connector) => ({
      id: connector.id,
      name: connector.name,
      receiveAs: connector.receiveAs,
      checkedAt: connector.checkedAt?.toISOString() ?? null,
    })),
  };
}
