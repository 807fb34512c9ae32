import { BadRequestException, ForbiddenException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import type { TenantAccess } from '@mlr/contracts';
import type { ServiceClient } from '../services/service-client.js';
import { checkBackupScope } from './backup-scope.js';
import type { AuthenticatedRequest, Principal } from './principal.js';

const requestOf = (principal: Principal) => ({ principal, method: 'POST', path: '/x' }) as AuthenticatedRequest;
const admin: Principal = { sub: 'admin@acme.test', role: 'tenant_admin', tenant: 'acme', mailboxes: ['bob@acme.test'] };
const operator: Principal = { sub: 'ops', role: 'operator', tenant: null, mailboxes: [] };

function licensing(capabilities: Record<string, 'yes' | 'no'>) {
  let calls = 0;
  const services = {
    call: async (_service: string, _verb: string, request: { tenantId: string; connectorId?: string }) => {
      calls++;
      const connectors = Object.entries(capabilities).map(([id, receiveAs]) => ({
        id,
        name: id,
        receiveAs,
        checkedAt: null,
      }));
      const access: TenantAccess = {
        tenantId: request.tenantId,
        receiveAs: capabilities[request.connectorId ?? ''] === 'yes',
        connectors,
      };
      return access;
    },
  } as unknown as ServiceClient;
  return { services, calls: () => calls };
}

const all = { kind: 'all' } as const;
const list = (...mailboxes: string[]) => ({ kind: 'list', mailboxes }) as const;

describe('checkBackupScope', () => {
  it('lets a tenant admin back up any mailbox through a connector with Receive As', async () => {
    const { services } = licensing({ 'imap-yes': 'yes', 'imap-no': 'no' });
    await expect(checkBackupScope(requestOf(admin), services, all, 'imap-yes')).resolves.toBeUndefined();
  });

  it('keeps a tenant admin to their own mailboxes through a connector without it', async () => {
    const { services } = licensing({ 'imap-yes': 'yes', 'imap-no': 'no' });
    await expect(
      checkBackupScope(requestOf(admin), services, list('Bob@acme.test'), 'imap-no'),
    ).resolves.toBeUndefined();
    const everyone = checkBackupScope(requestOf(admin), services, all, 'imap-no');
    await expect(everyone).rejects.toBeInstanceOf(ForbiddenException);
    await expect(everyone).rejects.toThrow(
      'without "Receive As" on connector imap-no a plan may back up only your own mailboxes: list them',
    );
    await expect(
      checkBackupScope(requestOf(admin), services, list('bob@acme.test', 'alice@acme.test'), 'imap-no'),
    ).rejects.toThrow('not yours: alice@acme.test');
  });

  it('says so when the connector is not an enrolled connector of the tenant (400, connectorId)', async () => {
    const { services } = licensing({ 'imap-yes': 'yes' });
    const refusal = await checkBackupScope(requestOf(admin), services, all, 'imap-9').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(BadRequestException);
    expect((refusal as BadRequestException).getResponse()).toMatchObject({
      field: 'connectorId',
      message: expect.stringContaining('imap-9 is not an enrolled connector of the tenant'),
    });
    // Its own mailboxes need no Receive As, whichever connector.
    await expect(
      checkBackupScope(requestOf(admin), services, list('bob@acme.test'), 'imap-9'),
    ).resolves.toBeUndefined();
  });

  it('exempts operators without asking licensing', async () => {
    const { services, calls } = licensing({});
    await expect(checkBackupScope(requestOf(operator), services, all, 'imap-no')).resolves.toBeUndefined();
    expect(calls()).toBe(0);
  });
});
