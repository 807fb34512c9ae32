import { describe, expect, it } from 'vitest';
import { connectorSchema } from '@mlr/contracts';
import { connectorState, connectorView } from './connector-view.js';
import type { ConnectorRecord } from './connectors.repository.js';

const now = new Date('2026-11-24T10:00:00.000Z');
const base: ConnectorRecord = {
  id: '0193e0b2-7c1d-7000-8000-000000000001',
  tenantId: 'acme',
  name: 'Head office',
  kind: 'imap',
  enrolmentTokenHash: 'a'.repeat(64),
  enrolmentTokenExpiresAt: new Date('2026-11-25T10:00:00.000Z'),
  enrolmentTokenUsedAt: null,
  natsUserPublicKey: null,
  receiveAs: 'unknown',
  capabilityWarnings: [],
  capabilityCheckedAt: null,
  agentVersion: null,
  revokedAt: null,
  natsRevokedAt: null,
  createdAt: now,
  updatedAt: now,
};

describe('connector state', () => {
  it('awaits enrolment while the token is unused and valid, then expires', () => {
    expect(connectorState(base, now)).toBe('awaiting_enrolment');
    expect(connectorState(base, new Date('2026-11-25T10:00:00.000Z'))).toBe('enrolment_expired');
  });

  it('is enrolled once the token was used, and revoked above all', () => {
    const enrolled = { ...base, enrolmentTokenUsedAt: now, natsUserPublicKey: `U${'B'.repeat(55)}` };
    expect(connectorState(enrolled, new Date('2030-01-01T00:00:00Z'))).toBe('enrolled');
    expect(connectorState({ ...enrolled, revokedAt: now }, now)).toBe('revoked');
    expect(connectorState({ ...base, revokedAt: now }, now)).toBe('revoked');
  });

  it('counts a connector provisioned without a token as enrolled', () => {
    expect(connectorState({ ...base, enrolmentTokenHash: null, enrolmentTokenExpiresAt: null }, now)).toBe('enrolled');
  });

  it('shows the view the contract describes, without the token hash', () => {
    const view = connectorView(
      { ...base, enrolmentTokenUsedAt: now, receiveAs: 'no', capabilityWarnings: ['w'], capabilityCheckedAt: now },
      now,
    );
    expect(connectorSchema.parse(view)).toEqual(view);
    expect(view).toMatchObject({ state: 'enrolled', enrolmentExpiresAt: null, enrolledAt: now.toISOString() });
    expect(JSON.stringify(view)).not.toContain('a'.repeat(64));
  });
});
