import type { ConnectorState, ConnectorView } from '@mlr/contracts';
import { isEnrolledConnector } from '@mlr/db';
import type { ConnectorRecord } from './connectors.repository.js';
import { isEnrolmentExpired } from './enrolment-token.js';

/** Where a connector is in its life, as of `now`. */
export function connectorState(connector: ConnectorRecord, now: Date): ConnectorState {
  if (connector.revokedAt) return 'revoked';
  if (isEnrolledConnector(connector)) return 'enrolled';
  if (!connector.enrolmentTokenExpiresAt || isEnrolmentExpired(connector.enrolmentTokenExpiresAt, now)) {
    return 'enrolment_expired';
  }
  return 'awaiting_enrolment';
}

export function connectorView(connector: ConnectorRecord, now: Date): ConnectorView {
  const enrolled = connector.enrolmentTokenUsedAt !== null;
  return {
    id: connector.id,
    tenantId: connector.tenantId,
    name: connector.name,
    kind: connector.kind,
    state: connectorState(connector, now),
    enrolmentExpiresAt: enrolled ? null : (connector.enrolmentTokenExpiresAt?.toISOString() ?? null),
    enrolledAt: connector.enrolmentTokenUsedAt?.toISOString() ?? null,
    natsUserPublicKey: connector.natsUserPublicKey,
    receiveAs: connector.receiveAs,
    capabilityWarnings: connector.capabilityWarnings,
    capabilityCheckedAt: connector.capabilityCheckedAt?.toISOString() ?? null,
    agentVersion: connector.agentVersion,
    revokedAt: connector.revokedAt?.toISOString() ?? null,
    natsRevokedAt: connector.natsRevokedAt?.toISOString() ?? null,
    createdAt: connector.createdAt.toISOString(),
    updatedAt: connector.updatedAt.toISOString(),
  };
}
