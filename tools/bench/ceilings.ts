import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { imapSessionAs, type ImapInfo, type S3Info, type SeedMessage } from '@mlr/testing';
import type { BenchResult } from './bench-result.js';

export type Ceiling = BenchResult['ceilings'][number];

// The connector's FETCH batches (apps/connector/src/sources/imap/imap-mail-source.ts FETCH_BATCH,
// FETCH_BATCH_BYTES, planFetchBatches):
// repeated here because tools may not import an app's internals.
const FETCH_BATCH = 50;
const FETCH_BATCH_BYTES = 32 * 1024 * 1024;

function ceiling(name: string, what: string, items: number, bytes: number, seconds: number, unit: string): Ceiling {
  return {
    name,
    what,
    value: items / seconds,
    unit: `${unit}/s`,
    items,
    bytes,
    seconds,
    mbPerSecond: bytes / 1e6 / seconds,
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/**
 * Raw IMAP FETCH of the INBOX of each mailbox, all at once, as the connector reads it: one session
 * per mailbox through the master user, SEARCH, sizes, then FETCH (UID FLAGS INTERNALDATE
 * RFC822.SIZE BODY.PEEK[]) in the connector's batches. Nothing is done with the bytes. Fails if a
 * mailbox does not yield `expectedPerMailbox` messages.
 */
/** A batch of ascending UIDs as the connector sends it: one range when they are consecutive. */
function compactSet(batch: readonly number[]): string {
  const first = batch[0] as number;
  const last = batch[batch.length - 1] as number;
  return last - first === batch.length - 1 ? `${first}:${last}` : batch.join(',');
}

export async function imapFetchCeiling(imap: ImapInfo, mailboxes: string[], expectedPerMailbox: number) {
  const { result, seconds } = await timed(() =>
    Promise.all(
      mailboxes.map(async (mailbox) => {
        const client = await imapSessionAs(imap, mailbox);
        try {
          await client.mailboxOpen('INBOX', { readOnly: true });
          const uids = (await client.search({ all: true }, { uid: true })) || [];
          const sizes = new Map<number, number>();
          // The whole folder at once: a list of 20,000 UIDs would exceed the server's command line limit.
          for await (const message of client.fetch('1:*', { uid: true, size: true }, { uid: true })) {
            sizes.set(message.uid, message.size ?? 0);
          }
          let messages = 0;
          let bytes = 0;
          for (const batch of fetchBatches(uids, sizes)) {
            for await (const message of client.fetch(
              compactSet(batch),
              { uid: true, flags: true, internalDate: true, size: true, source: true },
              { uid: true },
            )) {
              messages++;
              bytes += message.source?.length ?? 0;
            }
          }
          if (messages !== expectedPerMailbox) {
            throw new Error(`IMAP FETCH ceiling: ${mailbox} returned ${messages} messages, not ${expectedPerMailbox}`);
          }
          return { messages, bytes };
        } finally {
          await client.logout().catch(() => undefined);
        }
      }),
    ),
  );
  const messages = result.reduce((sum, r) => sum + r.messages, 0);
  const bytes = result.reduce((sum, r) => sum + r.bytes, 0);
  return ceiling(
    'IMAP FETCH',
    `raw IMAP FETCH BODY.PEEK[] of the same ${mailboxes.length === 1 ? 'mailbox' : `${mailboxes.length} mailboxes, one session each, at once`} on the same Dovecot, in batches of ${FETCH_BATCH} as the connector fetches`,
    messages,
    bytes,
    seconds,
    'messages',
  );
}

function fetchBatches(uids: readonly number[], sizes: ReadonlyMap<number, number>): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (current.length > 0 && (current.length >= FETCH_BATCH || bytes + size > FETCH_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(uid);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Raw IMAP APPEND of `messages` (flags, INTERNALDATE) into a scratch folder of `user`, over
 * `sessions` sessions at once, each taking the next message when it is free (as the restore writes
 * one mailbox); the folder is deleted afterwards.
 */
export async function imapAppendCeiling(
  imap: ImapInfo,
  user: string,
  messages: SeedMessage[],
  sessions = 1,
): Promise<Ceiling> {
  const folder = `bench-ceiling-${Date.now()}`;
  const clients = await Promise.all(Array.from({ length: sessions }, () => imapSessionAs(imap, user)));
  const [first] = clients;
  if (!first) throw new RangeError(`sessions must be at least 1, got ${sessions}`);
  try {
    await first.mailboxCreate(folder);
    let next = 0;
    const { seconds } = await timed(() =>
      Promise.all(
        clients.map(async (client) => {
          for (let message = messages[next++]; message; message = messages[next++]) {
            const appended = await client.append(folder, message.bytes, message.flags ?? [], message.internalDate);
            if (!appended || !appended.uid) throw new Error(`IMAP APPEND ceiling: the server returned no UID`);
          }
        }),
      ),
    );
    await first.mailboxDelete(folder);
    const bytes = messages.reduce((sum, m) => sum + m.bytes.length, 0);
    return ceiling(
      'IMAP APPEND',
      `raw IMAP APPEND of the same messages (flags, INTERNALDATE) into a scratch folder on the same Dovecot, ${sessions === 1 ? 'one session' : `${sessions} sessions at once`}`,
      messages.length,
      bytes,
      seconds,
      'messages',
    );
  } finally {
    await Promise.all(clients.map((client) => client.logout().catch(() => undefined)));
  }
}

/**
 * Raw S3 PUT of `count` objects of `objectBytes` random bytes, `concurrency` in flight, into a
 * scratch bucket of the same RGW; the objects and the bucket are deleted afterwards.
 */
export async function s3PutCeiling(
  s3: S3Info,
  options: { objectBytes: number; count: number; concurrency: number },
): Promise<Ceiling> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = `mlr-bench-ceiling-${Date.now()}`;
  // Different bytes per object, made before the clock starts.
  const bodies = Array.from({ length: Math.min(options.count, options.concurrency * 2) }, () =>
    randomBytes(options.objectBytes),
  );
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    let next = 0;
    const { seconds } = await timed(() =>
      Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          for (let i = next++; i < options.count; i = next++) {
            await client.send(
              new PutObjectCommand({ Bucket: bucket, Key: `object-${i}`, Body: bodies[i % bodies.length] }),
            );
          }
        }),
      ),
    );
    for (let i = 0; i < options.count; i++) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `object-${i}` }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    const size =
      options.objectBytes >= 1024 * 1024
        ? `${options.objectBytes / 1024 / 1024} MiB`
        : `${Math.round(options.objectBytes / 1024)} KiB`;
    return ceiling(
      `S3 PUT ${size}`,
      `raw S3 PUT of ${options.count} objects of ${size}, ${options.concurrency} in flight, to the same RGW`,
      options.count,
      options.count * options.objectBytes,
      seconds,
      'objects',
    );
  } finally {
    client.destroy();
  }
}
