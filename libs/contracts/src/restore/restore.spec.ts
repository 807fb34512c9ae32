import { describe, expect, it } from 'vitest';
import { auditCallSchemas } from '../services/audit.js';
import { createRestoreRequestSchema, requesterSchema, restoreInputSchema } from './restore.js';

describe('requesterSchema', () => {
  it('lets the service account act only when the gateway said so: absent counts as false', () => {
    expect(requesterSchema.parse({ actor: 'a', role: 'tenant_admin', visibleMailboxes: 'all' })).toEqual({
      actor: 'a',
      role: 'tenant_admin',
      visibleMailboxes: 'all',
      serviceAccount: false,
    });
    expect(
      requesterSchema.parse({ actor: 'a', role: 'tenant_admin', visibleMailboxes: 'all', serviceAccount: true })
        .serviceAccount,
    ).toBe(true);
  });

  it('refuses a service account acting for anyone but a tenant admin who sees every mailbox', () => {
    const user = requesterSchema.safeParse({
      actor: 'u',
      role: 'user',
      visibleMailboxes: ['u@x'],
      serviceAccount: true,
    });
    expect(user.success).toBe(false);
    expect(user.error?.issues[0]).toMatchObject({
      path: ['serviceAccount'],
      message: 'the service account acts only for tenant admins, not for the role user',
    });
    const narrow = requesterSchema.safeParse({
      actor: 'a',
      role: 'tenant_admin',
      visibleMailboxes: ['a@x'],
      serviceAccount: true,
    });
    expect(narrow.error?.issues[0]?.message).toMatch(/sees every mailbox/);
  });
});

describe('restore requests', () => {
  it('still default to the agent (runBy connector); scheduling decides whether it may act', () => {
    const input = restoreInputSchema.parse({ recordIds: ['r1'], target: { kind: 'original' } });
    expect(input.runBy).toBe('connector');
    const request = createRestoreRequestSchema.parse({
      tenantId: 'acme',
      requester: { actor: 'u', role: 'user', visibleMailboxes: ['u@x'] },
      recordIds: ['r1'],
      target: { kind: 'original' },
    });
    expect(request.requester.serviceAccount).toBe(false);
  });
});

describe('tenants.access request', () => {
  const schema = auditCallSchemas['tenants.access'].request;

  it('takes a tenant, and optionally the connector to answer for', () => {
    expect(schema.parse({ tenantId: 'acme' })).toEqual({ tenantId: 'acme' });
    expect(schema.parse({ tenantId: 'acme', connectorId: 'imap-1' })).toEqual({
      tenantId: 'acme',
      connectorId: 'imap-1',
    });
    expect(schema.safeParse({ tenantId: 'acme', connectorId: 'Not An Id' }).success).toBe(false);
  });
});
