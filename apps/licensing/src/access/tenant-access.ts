import type { TenantAccess } from '@mlr/contracts';
import type { ConnectorCapability } from './access.repository.js';

/**
 * What a tenant admin of `tenantId` may reach. "Receive As" is a property of each connector's service
 * account, found when the connector enrolled; `connectors` are those in service (enrolled, not
 * revoked): one awaiting enrolment has not been checked, and a revoked one acts for nobody, so
 * neither narrows nor widens anything.
 * - For one connector (`connectorId`, e.g. the connector a restore names): `yes` on that connector.
 *   A connector that is not in service answers false.
 * - For the tenant: connectors in service exist and every one of them said `yes`.
 * `no` or `unknown` keeps the admin to their own mailboxes: doubt never widens access.
 */
export function tenantAccess(
  tenantId: string,
  connectors: readonly ConnectorCapability[],
  connectorId?: string,
): TenantAccess {
  const concerned = connectorId === undefined ? connectors : connectors.filter((c) => c.id === connectorId);
  return {
    tenantId,
    receiveAs: concerned.length > 0 && concerned.every((connector) => connector.receiveAs === 'yes'),
    connectors: connectors.map((connector) => ({
      id: connector.id,
      name: connector.name,
      receiveAs: connector.receiveAs,
      checkedAt: connector.checkedAt?.toISOString() ?? null,
    })),
  };
}
