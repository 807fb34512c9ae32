import { errors } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { jobEventSchema, type JobEvent, type RestoreItemResult } from '@mlr/contracts';
import { JobReporter, MAX_ITEMS_PER_EVENT } from './job-reporter.js';
import type { PlatformPublisher } from './commit-batcher.js';

function recordingPublisher(): { publisher: PlatformPublisher; events: JobEvent[] } {
  const events: JobEvent[] = [];
  const publisher = {
    publish: async (_channel: string, _subject: string, event: JobEvent) => {
      events.push(jobEventSchema.parse(event));
    },
  } as unknown as PlatformPublisher;
  return { publisher, events };
}

const job = { tenantId: 'acme', jobId: 'job-1', connectorId: 'imap-1', kind: 'restore' as const };

describe('JobReporter item results', () => {
  it('counts restored, skipped and failed items as seen, and sends their results with the next event', async () => {
    const { publisher, events } = recordingPublisher();
    const reporter = new JobReporter(publisher, job, { intervalMs: 60_000 });
    const results: RestoreItemResult[] = [
      { seq: 0, outcome: 'restored', targetMailbox: 'alice', targetFolder: 'INBOX' },
      { seq: 1, outcome: 'skipped', reason: 'already in INBOX', targetMailbox: 'alice', targetFolder: 'INBOX' },
      { seq: 2, outcome: 'failed', reason: 'object does not match its content id: tampered or wrong key' },
    ];
    for (const result of results) reporter.itemResult(result);
    expect(reporter.counters).toMatchObject({ seen: 3, restored: 1, skipped: 1, failed: 1 });
    await reporter.flush('partially_failed');
    expect(events).toHaveLength(1);
    expect(events[0]?.items).toEqual(results);
    expect(events[0]?.state).toBe('partially_failed');

    await reporter.flush('partially_failed');
    expect(events[1]?.items).toEqual([]);
  });

  it('sends a full batch of results before the interval, and splits a large flush with the state on the last event', async () => {
    const { publisher, events } = recordingPublisher();
    const reporter = new JobReporter(publisher, job, { intervalMs: 60_000 });
    await reporter.flush('running');
    for (let seq = 0; seq < MAX_ITEMS_PER_EVENT; seq++) reporter.itemResult({ seq, outcome: 'restored' });
    await reporter.tick();
    expect(events).toHaveLength(2);
    expect(events[1]?.items).toHaveLength(MAX_ITEMS_PER_EVENT);

    const more = MAX_ITEMS_PER_EVENT * 2 + 5;
    for (let seq = 0; seq < more; seq++) reporter.itemResult({ seq: 1_000 + seq, outcome: 'restored' });
    await reporter.flush('succeeded');
    const last = events.slice(2);
    expect(last.map((e) => e.items.length)).toEqual([MAX_ITEMS_PER_EVENT, MAX_ITEMS_PER_EVENT, 5]);
    expect(last.map((e) => e.state)).toEqual(['running', 'running', 'succeeded']);
    const sequences = events.map((e) => e.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    expect(last.at(-1)?.counters.restored).toBe(MAX_ITEMS_PER_EVENT + more);
  });

  it('sends the first result at once, then waits for the interval', async () => {
    const { publisher, events } = recordingPublisher();
    const reporter = new JobReporter(publisher, job, { intervalMs: 60_000 });
    await reporter.flush('running');
    await reporter.tick();
    expect(events).toHaveLength(1);
    reporter.itemResult({ seq: 0, outcome: 'restored' });
    await reporter.tick();
    expect(events).toHaveLength(2);
    expect(events[1]?.counters.restored).toBe(1);
    reporter.itemResult({ seq: 1, outcome: 'restored' });
    await reporter.tick();
    expect(events).toHaveLength(2);
  });
});

describe('JobReporter keep-alive', () => {
  it('sends word while the job makes no progress, and nothing after its final state', async () => {
    const { publisher, events } = recordingPublisher();
    const reporter = new JobReporter(publisher, { ...job, kind: 'backup' }, { intervalMs: 60_000 });
    const stop = reporter.keepAlive(40);
    try {
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.every((event) => event.state === 'running' && event.counters.seen === 0)).toBe(true);
      await reporter.flush('succeeded');
      const sent = events.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(events).toHaveLength(sent);
      expect(events.at(-1)?.state).toBe('succeeded');
    } finally {
      stop();
    }
  });
});

describe('JobReporter when events cannot be published', () => {
  /** A publisher that fails the first `failures` publishes, then records like recordingPublisher. */
  function flakyPublisher(failures: number): { publisher: PlatformPublisher; events: JobEvent[]; tries: string[] } {
    const events: JobEvent[] = [];
    const tries: string[] = [];
    let left = failures;
    const publisher = {
      publish: async (_channel: string, _subject: string, event: JobEvent, options: { msgId: string }) => {
        tries.push(options.msgId);
        if (left-- > 0) throw new Error('TIMEOUT');
        events.push(jobEventSchema.parse(event));
      },
    } as unknown as PlatformPublisher;
    return { publisher, events, tries };
  }

  it('sends what a failed event carried with the next one, and goes on sending after it', async () => {
    const { publisher, events } = flakyPublisher(1);
    const reporter = new JobReporter(publisher, job, { intervalMs: 60_000 });
    reporter.itemResult({ seq: 0, outcome: 'restored', targetMailbox: 'alice', targetFolder: 'INBOX' });
    reporter.error({ scope: 'message', target: 'alice/INBOX/1', message: 'too large' });
    await expect(reporter.flush('running')).resolves.toBeUndefined(); // progress never fails the job
    expect(events).toHaveLength(0);
    reporter.itemResult({
      seq: 1,
      outcome: 'skipped',
      reason: 'already there',
      targetMailbox: 'alice',
      targetFolder: 'INBOX',
    });
    await reporter.flush('running');
    expect(events).toHaveLength(1);
    expect(events[0]?.items.map((item) => item.seq)).toEqual([0, 1]);
    expect(events[0]?.errors.map((error) => error.target)).toEqual(['alice/INBOX/1']);
  });

  it('sends the final state again, with the same de-duplication id, until it is taken', async () => {
    const { publisher, events, tries } = flakyPublisher(3);
    const reporter = new JobReporter(publisher, job, { intervalMs: 60_000, retryDelayMs: 5 });
    reporter.itemResult({ seq: 0, outcome: 'restored', targetMailbox: 'alice', targetFolder: 'INBOX' });
    await reporter.flush('succeeded');
    expect(events.map((event) => event.state)).toEqual(['succeeded']);
    expect(events[0]?.items.map((item) => item.seq)).toEqual([0]);
    expect(new Set(tries).size).toBe(1);
    expect(tries).toHaveLength(4);
  });

  it('gives the final state up after finalEventGiveUpMs, and then says so', async () => {
    const { publisher } = flakyPublisher(1_000);
    const reporter = new JobReporter(publisher, job, { retryDelayMs: 5, finalEventGiveUpMs: 50 });
    await expect(reporter.flush('failed')).rejects.toThrow('TIMEOUT');
  });
});

describe('JobReporter when the connector is stopping', () => {
  it('does not keep sending the final state over a connection closed for good', async () => {
    const publisher = {
      publish: async () => {
        throw new errors.ClosedConnectionError();
      },
    } as unknown as PlatformPublisher;
    const reporter = new JobReporter(publisher, job, { retryDelayMs: 60_000 });
    await expect(reporter.flush('succeeded')).rejects.toThrow('closed connection');
  });
});
