import { AckPolicy, DeliverPolicy, type ConsumerConfig, type StreamConfig } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { consumerConfigOf, diffConsumerConfig, diffStreamConfig, streamConfigOf } from './declare.js';

const NS_PER_MS = 1_000_000;

describe('stream declaration', () => {
  const spec = {
    name: 'MLR_JOBS',
    subjects: ['mlr.*.jobs.*'],
    retention: 'workqueue',
    duplicateWindowMs: 120_000,
  } as const;

  it('maps a spec to a file-backed stream with explicit limits', () => {
    expect(streamConfigOf({ ...spec, subjects: [...spec.subjects] })).toMatchObject({
      name: 'MLR_JOBS',
      retention: 'workqueue',
      storage: 'file',
      duplicate_window: 120_000 * NS_PER_MS,
      max_age: 0,
      max_bytes: -1,
      discard: 'old',
    });
  });

  it('refuses new messages per subject when asked, and sees a server that omits the default as unchanged', () => {
    const wanted = streamConfigOf({
      ...spec,
      subjects: ['mlr.*.objects'],
      maxMsgsPerSubject: 1_024,
      discard: 'new',
      discardNewPerSubject: true,
    });
    expect(wanted).toMatchObject({ max_msgs_per_subject: 1_024, discard: 'new', discard_new_per_subject: true });
    const before = { ...wanted, discard: 'old', discard_new_per_subject: undefined } as unknown as StreamConfig;
    expect(diffStreamConfig(wanted, before).mutable).toEqual(['discard', 'discard_new_per_subject']);
    const plain = streamConfigOf({ ...spec, subjects: ['a'] });
    const omitted = { ...plain, discard_new_per_subject: undefined } as unknown as StreamConfig;
    expect(diffStreamConfig(plain, omitted)).toEqual({ mutable: [], immutable: [] });
  });

  it('refuses a duplicate window longer than the max age', () => {
    expect(() => streamConfigOf({ ...spec, subjects: ['a'], maxAgeMs: 1_000 })).toThrow(/duplicateWindowMs/);
  });

  it('sees no difference against the same config in another subject order', () => {
    const wanted = streamConfigOf({ ...spec, subjects: ['b', 'a'] });
    const existing = { ...wanted, subjects: ['a', 'b'], description: undefined } as unknown as StreamConfig;
    expect(diffStreamConfig(wanted, existing)).toEqual({ mutable: [], immutable: [] });
  });

  it('reports changed limits as updatable and storage/retention as conflicts', () => {
    const wanted = streamConfigOf({ ...spec, subjects: ['a'], maxAgeMs: 3_600_000 });
    const existing = { ...wanted, max_age: 0, storage: 'memory', retention: 'limits' } as unknown as StreamConfig;
    const diff = diffStreamConfig(wanted, existing);
    expect(diff.mutable).toEqual(['max_age']);
    expect(diff.immutable).toEqual(['storage is memory, wanted file', 'retention is limits, wanted workqueue']);
  });
});

describe('consumer declaration', () => {
  it('makes an explicit-ack durable pull consumer', () => {
    expect(
      consumerConfigOf({ durable: 'storage', filterSubject: 'mlr.*.objects', ackWaitMs: 10_000, maxDeliver: 5 }),
    ).toEqual({
      durable_name: 'storage',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: 'instant',
      ack_wait: 10_000 * NS_PER_MS,
      max_deliver: 5,
      filter_subject: 'mlr.*.objects',
    });
  });

  it('uses the first back-off value as the ack wait, like the server does', () => {
    const config = consumerConfigOf({ durable: 'c', backoffMs: [1_000, 5_000], ackWaitMs: 60_000 });
    expect(config.ack_wait).toBe(1_000 * NS_PER_MS);
    expect(config.backoff).toEqual([1_000 * NS_PER_MS, 5_000 * NS_PER_MS]);
  });

  it('refuses a back-off list the server would refuse', () => {
    expect(() => consumerConfigOf({ durable: 'c', backoffMs: [1_000, 2_000], maxDeliver: 2 })).toThrow(/maxDeliver/);
    expect(() => consumerConfigOf({ durable: 'c', backoffMs: [0] })).toThrow(/positive/);
  });

  it('compares only what the spec manages', () => {
    const wanted = consumerConfigOf({ durable: 'c', ackWaitMs: 30_000 });
    const existing = {
      ...wanted,
      max_ack_pending: 1000,
      num_replicas: 0,
      backoff: undefined,
    } as unknown as ConsumerConfig;
    expect(diffConsumerConfig(wanted, existing)).toEqual({ mutable: [], immutable: [] });
    const changed = {
      ...existing,
      ack_wait: 5 * NS_PER_MS,
      deliver_policy: 'new',
      filter_subject: 'x',
    } as unknown as ConsumerConfig;
    expect(diffConsumerConfig(wanted, changed)).toEqual({
      mutable: ['filter_subject', 'ack_wait'],
      immutable: ['deliver_policy is new, wanted all'],
    });
  });
});
