import { describe, expect, it } from 'vitest';
import type { ConnectorCapability } from './access.repository.js';
import { tenantAccess } from './tenant-access.js';

const connector = (id: string, receiveAs: ConnectorCapability['receiveAs']): ConnectorCapability => ({
  id,
  name: id,
  receiveAs,
  checkedAt: receiveAs === 'unknown' ? null : new Date('2026-11-24T08:00:00Z'),
});

describe('tenantAccess', () => {
  it('lets a tenant admin see every mailbox when every connector has Receive As', () => {
    const access = tenantAccess('acme', [connector('imap-1', 'yes'), connector('imap-2', 'yes')]);
    expect(access.receiveAs).toBe(true);
    expect(access.connectors).toEqual([
      { id: 'imap-1', name: 'imap-1', receiveAs: 'yes', checkedAt: '2026-11-24T08:00:00.000Z' },
      { id: 'imap-2', name: 'imap-2', receiveAs: 'yes', checkedAt: '2026-11-24T08:00:00.000Z' },
    ]);
  });

  it.each([
    ['no connector at all', []],
    ['a connector without Receive As', [connector('imap-1', 'yes'), connector('imap-2', 'no')]],
    ['a connector that could not verify', [connector('imap-1', 'unknown')]],
  ])('keeps the admin to their own mailboxes with %s', (_case, connectors) => {
    expect(tenantAccess('acme', connectors).receiveAs).toBe(false);
  });

  describe('for one connector', () => {
    const connectors = [connector('imap-yes', 'yes'), connector('imap-no', 'no'), connector('imap-unknown', 'unknown')];

    it('answers with that connector’s own capability, whatever the others say', () => {
      expect(tenantAccess('acme', connectors).receiveAs).toBe(false);
      expect(tenantAccess('acme', connectors, 'imap-yes').receiveAs).toBe(true);
      expect(tenantAccess('acme', connectors, 'imap-no').receiveAs).toBe(false);
      expect(tenantAccess('acme', connectors, 'imap-unknown').receiveAs).toBe(false);
    });

    it('says no for a connector that is not in service (unknown, awaiting enrolment or revoked)', () => {
      expect(tenantAccess('acme', connectors, 'imap-gone').receiveAs).toBe(false);
      expect(tenantAccess('acme', [], 'imap-yes').receiveAs).toBe(false);
    });

    it('still lists every connector in service', () => {
      expect(tenantAccess('acme', connectors, 'imap-yes').connectors.map((c) => c.id)).toEqual([
        'imap-yes',
        'imap-no',
        'imap-unknown',
      ]);
    });
  });
});
