import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startNats, REPO_ROOT, type NatsInfo, type ServiceHandle } from '@mlr/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectMessaging, type MessagingConnection } from './connection.js';
import { schemaServiceValidator, schemaValidator } from './contract-types.js';
import { ensureConsumer, ensureStream, type ConsumerSpec, type StreamSpec } from './declare.js';
import type { MessagingLogger } from './logger.js';
import { Publisher } from './publisher.js';
import { PermanentFailure, runConsumer, type ConsumerRunner, type Delivery } from './consumer-runner.js';
import { serve, ServiceClient, ServiceError, ServiceErrorCode } from './service.js';

// ---- a small contract, as libs/contracts would define it ----
const jobSchema = z.strictObject({
  tenantId: z.string().regex(/^[a-z0-9-]+$/),
  jobId: z.string().min(1),
  n: z.number().int(),
});
const chunkSchema = z.strictObject({
  contentId: z.string(),
  chunkIndex: z.number().int().nonnegative(),
  name: z.string(),
});
interface Payloads {
  jobs: z.infer<typeof jobSchema>;
  objects: z.infer<typeof chunkSchema>;
}
const validator = schemaValidator<Payloads>({ jobs: jobSchema, objects: chunkSchema });

interface Calls {
  echo: { request: { text: string; fail?: 'domain' | 'crash' }; response: { text: string; length: number } };
}
const calls = schemaServiceValidator<Calls>({
  echo: {
    request: z.strictObject({ text: z.string().min(1), fail: z.enum(['domain', 'crash']).optional() }),
    response: z.strictObject({ text: z.string(), length: z.number() }),
  },
});

// ---- helpers ----
interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
function recordingLogger(entries: LogEntry[]): MessagingLogger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      entries.push({ level, msg, fields });
      if (process.env['MLR_TEST_LOG'] === '1')
        process.stderr.write(`${Date.now() % 100_000} ${level} ${msg} ${JSON.stringify(fields)}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
function names(prefix: string): { stream: StreamSpec; consumer: ConsumerSpec; subject: (tenant: string) => string } {
  counter++;
  const tag = `${prefix}${counter}`;
  return {
    stream: {
      name: `T_${tag.toUpperCase()}`,
      subjects: [`t${counter}.*.jobs`],
      retention: 'workqueue',
      duplicateWindowMs: 60_000,
    },
    consumer: { durable: `c-${tag}`, ackWaitMs: 5_000 },
    subject: (tenant) => `t${counter}.${tenant}.jobs`,
  };
}

const tmpDir = (label: string) => {
  const dir = join(REPO_ROOT, 'tmp', `messaging-${label}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

describe('messaging over JetStream', () => {
  let dir: string;
  let nats: ServiceHandle<NatsInfo>;
  let conn: MessagingConnection;
  const log: LogEntry[] = [];
  const logger = recordingLogger(log);
  const runners: ConsumerRunner[] = [];

  beforeAll(async () => {
    dir = tmpDir('js');
    nats = await startNats({ dir });
    conn = await connectMessaging({ servers: nats.info.url, name: 'messaging-spec', reconnectWaitMs: 200, logger });
  });

  afterAll(async () => {
    await Promise.all(runners.map((runner) => runner.stop()));
    await conn?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('declares streams and consumers idempotently and updates them to match', async () => {
    const jsm = await conn.manager();
    const { stream, consumer } = names('declare');
    const withBackoff: ConsumerSpec = {
      ...consumer,
      backoffMs: [500, 2_000],
      maxDeliver: 5,
      filterSubject: stream.subjects[0],
    };

    expect((await ensureStream(jsm, stream, logger)).action).toBe('created');
    expect((await ensureStream(jsm, stream, logger)).action).toBe('unchanged');
    expect((await ensureConsumer(jsm, stream.name, withBackoff, logger)).action).toBe('created');
    expect((await ensureConsumer(jsm, stream.name, withBackoff, logger)).action).toBe('unchanged');

    const updated = await ensureStream(jsm, { ...stream, maxAgeMs: 3_600_000 }, logger);
    expect(updated.action).toBe('updated');
    expect(updated.info.config.max_age).toBe(3_600_000 * 1_000_000);
    expect((await ensureStream(jsm, { ...stream, maxAgeMs: 3_600_000 }, logger)).action).toBe('unchanged');

    const consumerUpdated = await ensureConsumer(jsm, stream.name, { ...withBackoff, maxDeliver: 7 }, logger);
    expect(consumerUpdated.action).toBe('updated');
    expect(consumerUpdated.info.config.max_deliver).toBe(7);

    await expect(ensureStream(jsm, { ...stream, storage: 'memory' }, logger)).rejects.toThrow(
      /cannot be updated in place: storage/,
    );
    await expect(
      ensureConsumer(jsm, stream.name, { ...withBackoff, maxDeliver: 7, deliverPolicy: 'new' }, logger),
    ).rejects.toThrow(/deliver_policy is all, wanted new/);
  });

  it('stores a message published twice with the same msgId once', async () => {
    const jsm = await conn.manager();
    const { stream, subject } = names('dedupe');
    await ensureStream(jsm, stream, logger);
    const publisher = new Publisher<Payloads>(conn, { logger });
    const job = { tenantId: 'acme', jobId: 'j1', n: 1 };

    const first = await publisher.publish('jobs', subject('acme'), job, { msgId: 'job-j1' });
    const second = await publisher.publish('jobs', subject('acme'), job, { msgId: 'job-j1' });
    const third = await publisher.publish('jobs', subject('acme'), { ...job, jobId: 'j2' }, { msgId: 'job-j2' });

    expect(first).toEqual({ stream: stream.name, seq: 1, duplicate: false });
    expect(second).toEqual({ stream: stream.name, seq: 1, duplicate: true });
    expect(third.seq).toBe(2);
    expect((await jsm.streams.info(stream.name)).state.messages).toBe(2);
  });

  it('processes N messages with at most `concurrency` handlers in flight', async () => {
    const jsm = await conn.manager();
    const { stream, consumer, subject } = names('conc');
    const publisher = new Publisher<Payloads>(conn, { logger, validator });
    await ensureStream(jsm, stream, logger);
    const total = 24;
    for (let n = 0; n < total; n++) {
      await publisher.publish(
        'jobs',
        subject(`t${n % 3}`),
        { tenantId: `t${n % 3}`, jobId: `j${n}`, n },
        { msgId: `j${n}` },
      );
    }
    let running = 0;
    let peak = 0;
    const seen = new Set<number>();
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      concurrency: 4,
      logger,
      handler: async (delivery) => {
        running++;
        peak = Math.max(peak, running);
        await pause(30);
        seen.add(delivery.payload.n);
        running--;
      },
    });
    runners.push(runner);
    await until('all messages handled', () => seen.size === total);
    await until('the work queue to be empty', async () => (await jsm.streams.info(stream.name)).state.messages === 0);
    expect(peak).toBe(4);
    await runner.stop();
    expect(runner.inFlight).toBe(0);
  });

  it('redelivers a message whose handler failed once, then acks it', async () => {
    const jsm = await conn.manager();
    const { stream, consumer, subject } = names('retry');
    await ensureStream(jsm, stream, logger);
    const deliveries: number[] = [];
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      failureDelay: { baseMs: 100, maxMs: 1_000 },
      logger,
      handler: async (delivery) => {
        deliveries.push(delivery.deliveryCount);
        if (delivery.deliveryCount === 1) throw new Error('transient: database busy');
      },
    });
    runners.push(runner);
    await new Publisher<Payloads>(conn).publish(
      'jobs',
      subject('acme'),
      { tenantId: 'acme', jobId: 'r1', n: 1 },
      { msgId: 'r1' },
    );
    await until('the second delivery', () => deliveries.length === 2);
    await until('the work queue to be empty', async () => (await jsm.streams.info(stream.name)).state.messages === 0);
    expect(deliveries).toEqual([1, 2]);
    const info = await jsm.consumers.info(stream.name, consumer.durable);
    expect(info.num_ack_pending).toBe(0);
    expect(
      log.some((e) => e.msg === 'handler failed; message will be redelivered' && e.fields['redeliverInMs'] === 100),
    ).toBe(true);
    await runner.stop();
  });

  it('terminates invalid payloads with a logged reason instead of redelivering them', async () => {
    const jsm = await conn.manager();
    const { stream, subject } = names('invalid');
    const consumer: ConsumerSpec = { durable: 'c-invalid', ackWaitMs: 1_000 };
    await ensureStream(jsm, stream, logger);
    const handled: string[] = [];
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      logger,
      handler: async (delivery) => {
        handled.push(delivery.payload.jobId);
        if (delivery.payload.jobId === 'gone') throw new PermanentFailure('job gone refers to a deleted plan');
      },
    });
    runners.push(runner);
    // Bypass the typed publisher on purpose: a foreign or buggy sender.
    await conn.js.publish(subject('acme'), new TextEncoder().encode('{"tenantId":"acme","jobId":'), {
      msgID: 'broken-json',
    });
    await conn.js.publish(subject('acme'), JSON.stringify({ tenantId: 'ACME!', jobId: '', n: 1.5 }), {
      msgID: 'bad-fields',
    });
    await conn.js.publish(subject('acme'), JSON.stringify({ tenantId: 'acme', jobId: 'gone', n: 1 }), {
      msgID: 'gone',
    });
    await conn.js.publish(subject('acme'), JSON.stringify({ tenantId: 'acme', jobId: 'ok', n: 2 }), { msgID: 'good' });

    await until('the valid messages to be handled', () => handled.length === 2);
    await pause(2_500); // > 2 × ack wait: a redelivery would have happened by now
    expect(handled).toEqual(['gone', 'ok']);
    const info = await jsm.consumers.info(stream.name, consumer.durable);
    expect(info.num_redelivered).toBe(0);
    expect(info.num_ack_pending).toBe(0);
    expect((await jsm.streams.info(stream.name)).state.messages).toBe(0);

    const terminated = log.filter((e) => e.msg === 'invalid message terminated' && e.fields['stream'] === stream.name);
    expect(terminated.map((e) => e.fields['msgId'])).toEqual(['broken-json', 'bad-fields']);
    expect(String(terminated[0]?.fields['reason'])).toMatch(/not valid JSON/);
    expect(String(terminated[1]?.fields['reason'])).toMatch(
      /^invalid jobs message on t\d+\.acme\.jobs: tenantId: .*; jobId: .*; n: /,
    );
    expect(
      log.some(
        (e) =>
          e.msg === 'message failed permanently; terminated' &&
          e.fields['reason'] === 'job gone refers to a deleted plan',
      ),
    ).toBe(true);
    await runner.stop();
  });

  it("keeps a long handler's message with working() heartbeats instead of letting it be redelivered", async () => {
    const jsm = await conn.manager();
    const { stream, subject } = names('long');
    const consumer: ConsumerSpec = { durable: 'c-long', ackWaitMs: 1_000 };
    const deliveries: number[] = [];
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      concurrency: 2,
      workingIntervalMs: 300,
      logger,
      handler: async (delivery) => {
        deliveries.push(delivery.deliveryCount);
        await pause(2_500); // 2.5 × the ack wait
      },
    });
    runners.push(runner);
    await until(
      'the consumer to exist',
      async () => (await jsm.consumers.info(stream.name, consumer.durable).catch(() => null)) !== null,
    );
    await new Publisher<Payloads>(conn).publish(
      'jobs',
      subject('acme'),
      { tenantId: 'acme', jobId: 'long', n: 1 },
      { msgId: 'long' },
    );
    await until('the work queue to be empty', async () => (await jsm.streams.info(stream.name)).state.messages === 0);
    expect(deliveries).toEqual([1]);
    await runner.stop();
  });

  it('carries binary chunks: bytes in the body, the typed header validated', async () => {
    const jsm = await conn.manager();
    const { consumer } = names('bin');
    const stream: StreamSpec = { name: 'T_BINARY', subjects: ['bin.*.objects'], retention: 'workqueue' };
    await ensureStream(jsm, stream, logger);
    const received: Array<Delivery<Payloads['objects']>> = [];
    const runner = runConsumer<Payloads, 'objects'>({
      connection: conn,
      kind: 'objects',
      validator,
      stream,
      consumer,
      logger,
      handler: async (delivery) => {
        received.push(delivery);
      },
    });
    runners.push(runner);
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
    const header = { contentId: 'c0ffee', chunkIndex: 0, name: 'Prüfbericht – März.pdf' };
    const result = await new Publisher<Payloads>(conn).publishBinary('objects', 'bin.acme.objects', header, bytes, {
      msgId: 'c0ffee:0',
    });
    expect(result.duplicate).toBe(false);
    await until('the chunk', () => received.length === 1);
    expect(received[0]?.payload).toEqual(header);
    expect(Buffer.from(received[0]?.data ?? []).equals(Buffer.from(bytes))).toBe(true); // byte-exact
    expect(received[0]?.msgId).toBe('c0ffee:0');
    await runner.stop();
  });

  it('re-creates its consumer after the consumer was deleted', async () => {
    const jsm = await conn.manager();
    const { stream, consumer, subject } = names('recreate');
    const handled: number[] = [];
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      restartDelayMs: 100,
      pullExpiresMs: 2_000,
      logger,
      handler: async (delivery) => {
        handled.push(delivery.payload.n);
      },
    });
    runners.push(runner);
    const publisher = new Publisher<Payloads>(conn);
    await until(
      'the consumer to exist',
      async () => (await jsm.consumers.info(stream.name, consumer.durable).catch(() => null)) !== null,
    );
    await publisher.publish('jobs', subject('acme'), { tenantId: 'acme', jobId: 'a', n: 1 }, { msgId: 'a' });
    await until('the first message', () => handled.length === 1);
    // Its ack must have landed: an ack that reaches a deleted consumer is lost, and the re-created
    // consumer would (rightly) deliver the message again.
    await until('the first ack', async () => (await jsm.streams.info(stream.name)).state.messages === 0);

    await jsm.consumers.delete(stream.name, consumer.durable);
    await publisher.publish('jobs', subject('acme'), { tenantId: 'acme', jobId: 'b', n: 2 }, { msgId: 'b' });
    await until('the message after re-creation', () => handled.includes(2));
    expect(handled).toEqual([1, 2]);
    expect(log.some((e) => e.msg === 'consumer re-established' && e.fields['stream'] === stream.name)).toBe(true);
    await runner.stop();
  });

  it('answers typed requests and returns validation and domain errors as structured replies', async () => {
    const responder = serve(
      conn.nc,
      calls,
      'echo',
      'mlr.svc.test.echo',
      async (request) => {
        if (request.fail === 'domain') throw new ServiceError('not_found', 'no such thing', { id: 'x' });
        if (request.fail === 'crash') throw new Error('secret internals');
        return { text: request.text, length: request.text.length };
      },
      { queue: 'test', logger },
    );
    const client = new ServiceClient<Calls>(conn.nc, calls, { logger, timeoutMs: 2_000 });

    expect(await client.request('echo', 'mlr.svc.test.echo', { text: 'hello' })).toEqual({
      ok: true,
      value: { text: 'hello', length: 5 },
    });

    const invalid = await client.request('echo', 'mlr.svc.test.echo', { text: '' });
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) {
      expect(invalid.error.code).toBe(ServiceErrorCode.InvalidRequest);
      expect(invalid.error.message).toMatch(/^invalid echo request on mlr\.svc\.test\.echo: text: /);
      expect(invalid.error.details).toEqual([expect.objectContaining({ path: 'text' })]);
    }
    // A sender that ignores the types: the server refuses it the same way.
    const unknownField = await client.request('echo', 'mlr.svc.test.echo', { text: 'x', extra: 1 } as unknown as {
      text: string;
    });
    expect(unknownField.ok ? 'ok' : unknownField.error.code).toBe(ServiceErrorCode.InvalidRequest);

    expect(await client.request('echo', 'mlr.svc.test.echo', { text: 'x', fail: 'domain' })).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'no such thing', details: { id: 'x' } },
    });
    const crashed = await client.request('echo', 'mlr.svc.test.echo', { text: 'x', fail: 'crash' });
    expect(crashed).toEqual({
      ok: false,
      error: { code: ServiceErrorCode.Internal, message: 'echo failed on the server' },
    });

    const nobody = await client.request('echo', 'mlr.svc.nobody.echo', { text: 'x' });
    expect(nobody.ok ? 'ok' : nobody.error.code).toBe(ServiceErrorCode.Unavailable);

    // A server whose reply breaks the contract: the client refuses it.
    const liar = serve<Calls, 'echo'>(
      conn.nc,
      calls,
      'echo',
      'mlr.svc.liar.echo',
      async () => ({ text: 'x' }) as unknown as { text: string; length: number },
    );
    const lie = await client.request('echo', 'mlr.svc.liar.echo', { text: 'x' });
    expect(lie.ok ? 'ok' : lie.error.code).toBe(ServiceErrorCode.InvalidResponse);

    await Promise.all([responder.stop(), liar.stop()]);
  });
});

describe('messaging across a NATS server restart', () => {
  it('redelivers a message that was delivered but not acked when the server went down', async () => {
    const dir = tmpDir('restart');
    let nats = await startNats({ dir });
    const log: LogEntry[] = [];
    const logger = recordingLogger(log);
    const conn = await connectMessaging({ servers: nats.info.url, name: 'restart-spec', reconnectWaitMs: 200, logger });
    const stream: StreamSpec = { name: 'T_RESTART', subjects: ['restart.*.jobs'], retention: 'workqueue' };
    const consumer: ConsumerSpec = { durable: 'c-restart', ackWaitMs: 3_000 };
    const deliveries: Array<{ count: number; at: number }> = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const runner = runConsumer<Payloads, 'jobs'>({
      connection: conn,
      kind: 'jobs',
      validator,
      stream,
      consumer,
      concurrency: 2,
      restartDelayMs: 200,
      pullExpiresMs: 2_000,
      logger,
      handler: async (delivery) => {
        deliveries.push({ count: delivery.deliveryCount, at: Date.now() });
        // The first delivery is held (never acked while the server is down).
        if (delivery.deliveryCount === 1) await firstHeld;
      },
    });
    try {
      await until('the consumer to exist', async () => {
        const jsm = await conn.manager();
        return (await jsm.consumers.info(stream.name, consumer.durable).catch(() => null)) !== null;
      });
      await new Publisher<Payloads>(conn).publish(
        'jobs',
        'restart.acme.jobs',
        { tenantId: 'acme', jobId: 'held', n: 1 },
        { msgId: 'held' },
      );
      await until('the first delivery', () => deliveries.length === 1);

      await nats.stop();
      const restartedAt = Date.now();
      await pause(500);
      nats = await startNats({ dir });
      expect(nats.reused).toBe(false);

      await until('the redelivery after the restart', () => deliveries.length >= 2, 30_000);
      expect(deliveries[1]?.count).toBe(2);
      expect(deliveries[1]?.at ?? 0).toBeGreaterThan(restartedAt);
      releaseFirst(); // its late ack is harmless: the redelivered copy was acked

      // The loop keeps pulling on the restarted server: a new message gets through too.
      await new Publisher<Payloads>(conn).publish(
        'jobs',
        'restart.acme.jobs',
        { tenantId: 'acme', jobId: 'after', n: 2 },
        { msgId: 'after' },
      );
      await until('the message published after the restart', () => deliveries.length >= 3);
      const jsm = await conn.manager();
      await until('the work queue to be empty', async () => (await jsm.streams.info(stream.name)).state.messages === 0);
      expect(log.some((e) => e.msg === 'nats reconnected')).toBe(true);
    } finally {
      releaseFirst();
      await runner.stop();
      await conn.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('retries an unacknowledged publish with the same msgId until the restarted server stores it once', async () => {
    const dir = tmpDir('pubretry');
    let nats = await startNats({ dir });
    const log: LogEntry[] = [];
    const logger = recordingLogger(log);
    const conn = await connectMessaging({
      servers: nats.info.url,
      name: 'pubretry-spec',
      reconnectWaitMs: 200,
      logger,
    });
    const stream: StreamSpec = { name: 'T_PUBRETRY', subjects: ['pubretry.*.jobs'], retention: 'workqueue' };
    try {
      await ensureStream(await conn.manager(), stream, logger);
      const publisher = new Publisher<Payloads>(conn, {
        logger,
        timeoutMs: 400,
        maxAttempts: 20,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 400,
      });
      await nats.stop();
      const publishing = publisher.publish(
        'jobs',
        'pubretry.acme.jobs',
        { tenantId: 'acme', jobId: 'p', n: 1 },
        { msgId: 'p' },
      );
      await pause(1_500);
      nats = await startNats({ dir });
      const result = await publishing;
      expect(result.seq).toBe(1);
      expect(log.filter((e) => e.msg === 'publish not acknowledged; retrying').length).toBeGreaterThan(0);
      // Attempts buffered while disconnected reach the server too: the msgId keeps them to one message.
      await pause(500);
      expect((await (await conn.manager()).streams.info(stream.name)).state.messages).toBe(1);
    } finally {
      await conn.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
