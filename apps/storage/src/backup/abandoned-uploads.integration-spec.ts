import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { subjects, tenantChunksStream } from '@mlr/contracts';
import {
  connectMessaging,
  ensurePlatformStreams,
  ensureTenantChunksStream,
  type MessagingConnection,
} from '@mlr/messaging';
import { createLogger } from '@mlr/telemetry';
import { servicesNatsCredentials } from '@mlr/testing';
import { AbandonedUploads } from './abandoned-uploads.js';

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

    // Commits of other tests may wait in the shared stream: these see as many waiting as they are told.
    const sweeperSeeing = (waitingCommits: number) =>
      new AbandonedUploads(
        messaging,
        { inactiveMs: 1_000, everyMs: 60_000, batch: 10_000 },
        logger,
        Date.now,
        async () => waitingCommits,
      );
    const [sweeper, waiting] = [sweeperSeeing(0), sweeperSeeing(3)];
    // While commits wait for storage, one of them may name the idle upload: nothing is removed.
    expect(await waiting.sweep()).toEqual({ skipped: '3 commits wait for storage', removed: [] });
    expect(await count(idle)).toBe(2);

    const outcome = await sweeper.sweep();
    const ours = outcome.removed.filter((r) => [tenantId, otherTenant].some((t) => r.subject.startsWith(`mlr.${t}.`)));
    expect(ours.sort((a, b) => a.chunks - b.chunks)).toEqual([
      { subject: subjects.chunks(otherTenant, idle), chunks: 1 },
      { subject: subjects.chunks(tenantId, idle), chunks: 2 },
    ]);
    expect(await count(idle)).toBe(0);
    expect(await count(idle, otherTenant)).toBe(0);
    expect(await count(slow)).toBe(2);
  });

  it('asks the commit consumer (or the stream, before storage declared it) how many commits wait', async () => {
    const sweeper = new AbandonedUploads(messaging, { inactiveMs: 3_600_000, everyMs: 60_000, batch: 10 }, logger);
    const outcome = await sweeper.sweep();
    expect(outcome.removed).toEqual([]);
    if (outcome.skipped) expect(outcome.skipped).toMatch(/^\d+ commits wait for storage$/);
  });
});
