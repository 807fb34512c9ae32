import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { STREAMS, subjects } from '@mlr/contracts';
import { connectMessaging, ensurePlatformStreams, type MessagingConnection } from '@mlr/messaging';
import { createLogger } from '@mlr/telemetry';
import { servicesNatsCredentials } from '@mlr/testing';
import { AbandonedUploads } from './abandoned-uploads.js';

/** Abandoned uploads leave the chunk stream on the real JetStream; live ones and waiting ones stay. */
describe('AbandonedUploads', () => {
  const infra = inject('infra');
  const tenantId = `uploads-${randomBytes(4).toString('hex')}`;
  let messaging: MessagingConnection;
  const logger = createLogger({ service: 'uploads-it', level: 'silent' });

  beforeAll(async () => {
    messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: 'uploads-it',
      credentials: servicesNatsCredentials(infra),
    });
    await ensurePlatformStreams(messaging);
  });

  afterAll(async () => {
    await messaging?.close();
  });

  async function chunk(uploadId: string): Promise<void> {
    await messaging.js.publish(subjects.chunks(tenantId, uploadId), randomBytes(4096));
  }
  const count = async (uploadId: string) => {
    const info = await (
      await messaging.manager()
    ).streams.info(STREAMS.chunks.name, {
      subjects_filter: subjects.chunks(tenantId, uploadId),
    });
    return info.state.subjects?.[subjects.chunks(tenantId, uploadId)] ?? 0;
  };

  it('removes an upload whose last chunk is older than the wait, and keeps one still being sent', async () => {
    const [idle, slow] = ['a'.repeat(32), 'b'.repeat(32)];
    await chunk(idle);
    await chunk(idle);
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
    expect(outcome.removed.filter((r) => r.subject.startsWith(`mlr.${tenantId}.`))).toEqual([
      { subject: subjects.chunks(tenantId, idle), chunks: 2 },
    ]);
    expect(await count(idle)).toBe(0);
    expect(await count(slow)).toBe(2);
  });

  it('asks the commit consumer (or the stream, before storage declared it) how many commits wait', async () => {
    const sweeper = new AbandonedUploads(messaging, { inactiveMs: 3_600_000, everyMs: 60_000, batch: 10 }, logger);
    const outcome = await sweeper.sweep();
    expect(outcome.removed).toEqual([]);
    if (outcome.skipped) expect(outcome.skipped).toMatch(/^\d+ commits wait for storage$/);
  });
});
