import type { User } from '@nats-io/jwt';
import { connectorPermissions } from '@mlr/contracts';
import { sameSet } from './declare.js';

/**
 * Limits in a connector's user JWT that nats-server enforces for a client (2.9: `subs` and `payload`;
 * `data` is not enforced for client connections). A connector subscribes to a handful of subjects
 * (its inbox, its tenant's acknowledgements): a hundred leaves room and stops a flood of them. It
 * publishes at most a commit batch or a chunk of 512 KiB (COMMIT_BATCH_MAX_BYTES, MAX_CHUNK_BYTES),
 * or a job event (200 item results and the errors of a second): 1 MiB, the server's default
 * max_payload, written into the credentials so that a server configured for larger messages for
 * other clients does not take them from connectors.
 */
export const CONNECTOR_MAX_SUBSCRIPTIONS = 100;
export const CONNECTOR_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * The claims of a connector's NATS user JWT: exactly its tenant's connector permissions, and tags
 * naming tenant and connector. Enrolment (licensing) and the test fixtures mint the same claims.
 */
export function connectorUserClaims(tenantId: string, connectorId: string): Partial<User> {
  const permissions = connectorPermissions(tenantId, connectorId);
  return {
    pub: { allow: permissions.publish },
    sub: { allow: permissions.subscribe },
    subs: CONNECTOR_MAX_SUBSCRIPTIONS,
    payload: CONNECTOR_MAX_PAYLOAD_BYTES,
    data: -1,
    tags: [`tenant:${tenantId}`, `connector:${connectorId}`],
  };
}

/** The user name in a connector's JWT (shown by the server's connection list). */
export function connectorUserName(tenantId: string, connectorId: string): string {
  return `connector-${tenantId}-${connectorId}`;
}

/**
 * What the claims of a connector's user JWT lack against what connectors are given now
 * (`connectorUserClaims`): empty when nothing. A connector that enrolled under an older build may be
 * without a permission a newer feature needs, or without the limits.
 */
export function outdatedClaims(claims: Partial<User>, tenantId: string, connectorId: string): string[] {
  const wanted = connectorUserClaims(tenantId, connectorId);
  const differences: string[] = [];
  if (!sameSet(claims.pub?.allow, wanted.pub?.allow)) differences.push('publish permissions');
  if (!sameSet(claims.sub?.allow, wanted.sub?.allow)) differences.push('subscribe permissions');
  if (claims.subs !== wanted.subs) differences.push('subscription limit');
  if (claims.payload !== wanted.payload) differences.push('payload limit');
  return differences;
}
