import type { User } from '@nats-io/jwt';
import { connectorPermissions } from '@mlr/contracts';

/**
 * The claims of a connector's NATS user JWT: exactly its tenant's connector permissions, and tags
 * naming tenant and connector. Enrolment (licensing) and the test fixtures mint the same claims.
 */
export function connectorUserClaims(tenantId: string, connectorId: string): Partial<User> {
  const permissions = connectorPermissions(tenantId, connectorId);
  return {
    pub: { allow: permissions.publish },
    sub: { allow: permissions.subscribe },
    tags: [`tenant:${tenantId}`, `connector:${connectorId}`],
  };
}

/** The user name in a connector's JWT (shown by the server's connection list). */
export function connectorUserName(tenantId: string, connectorId: string): string {
  return `connector-${tenantId}-${connectorId}`;
}
