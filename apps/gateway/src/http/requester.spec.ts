import { ForbiddenException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import type { TenantAccess } from '@mlr/contracts';
import type { AuthenticatedRequest, Principal } from '../auth/principal.js';
import type { ServiceClient } from '../services/service-client.js';
import { accessOf, requesterOf } from './requester.js';

const requestOf = (principal: Principal) => ({ principal, method: 'POST', path: '/x' }) as AuthenticatedRequest;
const admin: Principal = {
  sub: 'admin@acme.test',
  role: 'tenant_admin',
  tenant: 'acme',
  mailboxes: ['admin@acme.test'],
};
const user: Principal = { sub: 'alice@acme.test', role: 'user', tenant: 'acme', mailboxes: ['alice@acme.test'] };

/** Licensing as the gateway sees it: `tenants.access` answered from per-connector capabilities. */
function licensing(capabilities: Record<string, 'yes' | 'no' | 'unknown'>) {
  const asked: unknown[] = [];
  const services = {
    call: async (service: string, verb: string, request: { tenantId: string; connectorId?: string }) => {
      asked.push({ service, verb, request });
      const connectors = Object.entries(capabilities).map(([id, receiveAs]) => ({
        id,
        name: id,
        receiveAs,
        checkedAt: null,
      }));
      const concerned =
        request.connectorId === undefined ? connectors : connectors.filter((c) => c.id === request.connectorId);
      const access: TenantAccess = {
        tenantId: request.tenantId,
        receiveAs: concerned.length > 0 && concerned.every((c) => c.receiveAs === 'yes'),
        connectors,
      };
      return access;
    },
  } as unknown as ServiceClient;
  return { services, asked };
}

describe('requesterOf', () => {
  it('lets the service account act for a tenant admin, and shows every mailbox, while the connector has Receive As', async () => {
    const { services, asked } = licensing({ 'imap-1': 'yes' });
    expect(await requesterOf(requestOf(admin), services, { connectorId: 'imap-1' })).toEqual({
      actor: admin.sub,
      role: 'tenant_admin',
      visibleMailboxes: 'all',
      serviceAccount: true,
    });
    expect(asked).toEqual([
      { service: 'licensing', verb: 'tenants.access', request: { tenantId: 'acme', connectorId: 'imap-1' } },
    ]);
  });

  it('decides with the connector the request names, not with the others', async () => {
    const { services } = licensing({ 'imap-yes': 'yes', 'imap-no': 'no' });
    expect((await requesterOf(requestOf(admin), services, { connectorId: 'imap-yes' })).serviceAccount).toBe(true);
    const narrowed = await requesterOf(requestOf(admin), services, { connectorId: 'imap-no' });
    expect(narrowed).toMatchObject({ visibleMailboxes: ['admin@acme.test'], serviceAccount: false });
    // No connector named: every connector in service must have it.
    expect((await requesterOf(requestOf(admin), services)).serviceAccount).toBe(false);
  });

  it('says whether the named connector is in service', async () => {
    const { services } = licensing({ 'imap-1': 'yes' });
    expect((await accessOf(requestOf(admin), services, { connectorId: 'imap-1' })).connectorInService).toBe(true);
    const typo = await accessOf(requestOf(admin), services, { connectorId: 'imap-9' });
    expect(typo).toMatchObject({ connectorInService: false, requester: { serviceAccount: false } });
    expect((await accessOf(requestOf(admin), services)).connectorInService).toBeNull();
  });

  it('never lets the service account act for a user, and asks nobody', async () => {
    const { services, asked } = licensing({ 'imap-1': 'yes' });
    expect(await requesterOf(requestOf(user), services, { connectorId: 'imap-1' })).toEqual({
      actor: user.sub,
      role: 'user',
      visibleMailboxes: ['alice@acme.test'],
      serviceAccount: false,
    });
    expect(asked).toEqual([]);
  });

  it('refuses operators', async () => {
    const { services } = licensing({});
    const operator: Principal = { sub: 'ops', role: 'operator', tenant: null, mailboxes: [] };
    await expect(requesterOf(requestOf(operator), services)).rejects.toBeInstanceOf(ForbiddenException);
  });
});
