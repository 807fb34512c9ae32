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
});
