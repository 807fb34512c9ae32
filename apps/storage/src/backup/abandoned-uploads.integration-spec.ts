import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { STREAMS, subjects, tenantChunksStream } from '@mlr/contracts';
import {
  connectMessaging,
  ensurePlatformStreams,
  ensureTenantChunksStream,
  type MessagingConnection,
} from '@mlr/messaging';
import { createLogger } from '@mlr/telemetry';
import { servicesNatsCredentials } from '@mlr/testing';
import { AbandonedUploads, type SweepOutcome } from './abandoned-uploads.js';

/** Abandoned uploads leave the tenants' chunk streams on the real JetStream; live ones and waiting ones stay. */
describe('AbandonedUploads', () => {
  const infra = inject('infra');
  const tenantId = `uploads-${randomBytes(4).toString('hex')}`;
  const otherTenant = `uploads-${randomBytes(4).toString('hex')}`;
  let messaging: MessagingConnection;
  const logger = createLogger({ service: 'uploads-it', level: 'silent' });

  beforeAll(async () => {
    messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: 'uploads-it',
      credentials: servicesNatsCredentials(infra),
    });
    await ensurePlatformStreams(messaging);
    for (const tenant of [tenantId, otherTenant]) await ensureTenantChunksStream(messaging, tenant, 64 * 1024 * 1024);
  });

  afterAll(async () => {
    await messaging?.close();
  });

  async function chunk(uploadId: string, tenant = tenantId): Promise<void> {
    await messaging.js.publish(subjects.chunks(tenant, uploadId), randomBytes(4096));
  }
  const count = async (uploadId: string, tenant = tenantId) => {
    const info = await (
      await messaging.manager()
    ).streams.info(tenantChunksStream(tenant).name, {
      subjects_filter: subjects.chunks(tenant, uploadId),
    });
    return info.state.subjects?.[subjects.chunks(tenant, uploadId)] ?? 0;
  };

  it('removes an upload whose last chunk is older than the wait, and keeps one still being sent', async () => {
    const [idle, slow] = ['a'.repeat(32), 'b'.repeat(32)];
    await chunk(idle);
    await chunk(idle);
    await chunk(idle, otherTenant); // another tenant's stream is swept too
    await chunk(slow); // a slow link: its first chunk is as old as the idle upload's
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await chunk(slow); // ... but it is still sending

    // A sweeper that sees as many of `busy`'s commits waiting for storage as it is told (none of the others').
    const sweeperSeeing = (busy: string, waitingCommits: number) =>
      new AbandonedUploads(
        messaging,
        { inactiveMs: 1_000, everyMs: 60_000, batch: 10_000 },
        logger,
        Date.now,
        async (tenant) => (tenant === busy ? waitingCommits : 0),
      );
    const ours = (outcome: SweepOutcome) =>
      outcome.removed.filter((r) => [tenantId, otherTenant].some((t) => r.subject.startsWith(`mlr.${t}.`)));
    // While commits of the tenant wait for storage, one of them may name its idle upload: the
    // tenant's uploads stay; another tenant's idle upload goes.
    const busy = await sweeperSeeing(tenantId, 3).sweep();
    expect(busy.skipped).toContainEqual({ tenantId, reason: 'commits of the tenant not stored yet: 3' });
    expect(ours(busy)).toEqual([{ subject: subjects.chunks(otherTenant, idle), chunks: 1 }]);
    expect(await count(idle)).toBe(2);
    expect(await count(idle, otherTenant)).toBe(0);

    const outcome = await sweeperSeeing(tenantId, 0).sweep();
    expect(ours(outcome)).toEqual([{ subject: subjects.chunks(tenantId, idle), chunks: 2 }]);
    expect(await count(idle)).toBe(0);
    expect(await count(slow)).toBe(2);
  });

  it("counts the tenant's commits in the commit stream, waiting or being stored, as waiting", async () => {
    await chunk('c'.repeat(32));
    const seq = (await messaging.js.publish(subjects.objects(tenantId), new Uint8Array([1]))).seq;
    try {
      const sweeper = new AbandonedUploads(messaging, { inactiveMs: 0, everyMs: 60_000, batch: 10_000 }, logger);
      const outcome = await sweeper.sweep();
      expect(outcome.skipped).toContainEqual({ tenantId, reason: 'commits of the tenant not stored yet: 1' });
      expect(await count('c'.repeat(32))).toBe(1);
    } finally {
      await (await messaging.manager()).streams.deleteMessage(STREAMS.objects.name, seq);
    }
  });
});
