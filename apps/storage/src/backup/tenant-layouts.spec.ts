import type { NatsConnection } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { LicensingTenantLayouts, TenantLayoutUnavailable } from './tenant-layouts.js';

const tenant = (objectLayout: string, objectRetentionDays: number | null = null) => ({
  id: 'acme',
  slug: 'acme',
  name: 'Acme',
  mlrEnabled: true,
  enabledAt: '2026-12-01T00:00:00.000Z',
  enabledBy: 'operator',
  disabledAt: null,
  tenantKeyId: null,
  objectLayout,
  uploadQuota: { bytes: 1024, isDefault: true },
  objectRetentionDays,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
});

/** A NATS connection whose licensing answers with whatever `answer` says at the time. */
function licensing(answer: () => { response?: unknown; err?: unknown } | Error) {
  const asked: string[] = [];
  const nc = {
    request: async (subject: string, packet: string) => {
      asked.push(`${subject} ${JSON.stringify((JSON.parse(packet) as { data: unknown }).data)}`);
      const reply = answer();
      if (reply instanceof Error) throw reply;
      return { json: () => reply };
    },
  } as unknown as NatsConnection;
  return { nc, asked };
}

describe('LicensingTenantLayouts: storage asks licensing, which owns tenants', () => {
  it("asks licensing's tenants.get and keeps the answer for freshForMs", async () => {
    let now = 0;
    let layout = 'packed';
    const { nc, asked } = licensing(() => ({ response: tenant(layout) }));
    const layouts = new LicensingTenantLayouts(nc, { freshForMs: 1_000, now: () => now });
    expect(await layouts.layoutOf('acme')).toBe('packed');
    layout = 'individual';
    now = 999;
    expect(await layouts.layoutOf('acme')).toBe('packed');
    now = 1_000;
    expect(await layouts.layoutOf('acme')).toBe('individual');
    expect(asked).toEqual(Array(2).fill('mlr.svc.licensing.tenants.get {"tenantId":"acme"}'));
  });

  it("keeps the tenant's default retention heard with its layout", async () => {
    const { nc } = licensing(() => ({ response: tenant('packed', 365) }));
    const layouts = new LicensingTenantLayouts(nc);
    expect(layouts.retentionDaysOf('acme')).toBeUndefined();
    await layouts.layoutOf('acme');
    expect(layouts.retentionDaysOf('acme')).toBe(365);
  });

  it('answers null for a tenant licensing does not know, and asks again next time', async () => {
    const { nc, asked } = licensing(() => ({ err: { code: 'not_found', message: 'tenant acme does not exist' } }));
    const layouts = new LicensingTenantLayouts(nc);
    expect(await layouts.layoutOf('acme')).toBeNull();
    expect(await layouts.layoutOf('acme')).toBeNull();
    expect(asked).toHaveLength(2);
  });

  it('keeps using the last answer while licensing is unreachable, and holds the batch when it never heard one', async () => {
    let now = 0;
    let reply: { response: unknown } | Error = { response: tenant('individual') };
    const { nc } = licensing(() => reply);
    const layouts = new LicensingTenantLayouts(nc, { freshForMs: 10, now: () => now });
    expect(await layouts.layoutOf('acme')).toBe('individual');
    reply = new Error('503 no responders');
    now = 1_000_000;
    expect(await layouts.layoutOf('acme')).toBe('individual');
    await expect(layouts.layoutOf('globex')).rejects.toThrow(TenantLayoutUnavailable);
    await expect(layouts.layoutOf('globex')).rejects.toThrow(/licensing cannot say tenant globex's object layout/);
  });

  it('does not take an unreadable answer or another refusal for "no such tenant"', async () => {
    const unreadable = new LicensingTenantLayouts(licensing(() => ({ response: tenant('striped') })).nc);
    await expect(unreadable.layoutOf('acme')).rejects.toThrow(/unreadable answer/);
    const refused = new LicensingTenantLayouts(
      licensing(() => ({ err: { code: 'invalid_request', message: 'bad tenant id' } })).nc,
    );
    await expect(refused.layoutOf('acme')).rejects.toThrow(TenantLayoutUnavailable);
  });
});
