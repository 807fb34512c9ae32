import { describe, expect, it } from 'vitest';
import { mailboxRetention, type RetentionPlan } from './mailbox-retention.js';

const plan = (overrides: Partial<RetentionPlan>): RetentionPlan => ({
  tenantId: 'acme',
  connectorId: 'c1',
  mailboxSelection: { kind: 'list', mailboxes: ['alice'] },
  retentionDays: 30,
  ...overrides,
});
const connectorMailboxes: Record<string, string[]> = { c1: ['alice', 'Bob', 'carol'], c2: ['dave'] };
const of = (connectorId: string) => connectorMailboxes[connectorId] ?? [];

describe('mailboxRetention: how long each mailbox is kept, from the plans that back it up', () => {
  it('keeps a mailbox as long as the longest plan covering it, and until deleted when one says so', () => {
    const tenants = mailboxRetention(
      [
        plan({ retentionDays: 30 }),
        plan({ mailboxSelection: { kind: 'list', mailboxes: ['alice', 'carol'] }, retentionDays: 90 }),
        plan({ mailboxSelection: { kind: 'all' }, retentionDays: 10 }),
        plan({ mailboxSelection: { kind: 'list', mailboxes: ['BOB'] }, retentionDays: null }),
      ],
      of,
    );
    expect(Object.fromEntries(tenants.get('acme')!)).toEqual({ alice: 90, bob: null, carol: 90 });
  });

  it('covers with a plan of all mailboxes only those its own connector knows, and keeps tenants apart', () => {
    const tenants = mailboxRetention(
      [plan({ mailboxSelection: { kind: 'all' }, connectorId: 'c2' }), plan({ tenantId: 'globex', retentionDays: 7 })],
      of,
    );
    expect(Object.fromEntries(tenants.get('acme')!)).toEqual({ dave: 30 });
    expect(Object.fromEntries(tenants.get('globex')!)).toEqual({ alice: 7 });
  });

  it('expires nothing of a tenant one of whose plans has a selection that cannot be read', () => {
    const tenants = mailboxRetention(
      [
        plan({ retentionDays: 1 }),
        plan({ mailboxSelection: { kind: 'some' }, retentionDays: null }),
        plan({ tenantId: 'globex' }),
      ],
      of,
    );
    expect(tenants.get('acme')).toBeUndefined();
    expect(Object.fromEntries(tenants.get('globex')!)).toEqual({ alice: 30 });
  });
});
