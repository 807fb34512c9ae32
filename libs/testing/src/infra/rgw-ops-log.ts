import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CephInfo } from './ceph.js';

/** One entry of RGW's ops log, as far as counting needs it. */
export interface OpsLogEntry {
  /** RGW's name of the operation (`put_obj`, `get_obj`, `list_bucket`, ...). */
  operation: string;
  /** HTTP method, from the logged request line. */
  method: string;
  /** Path and query of the request line. */
  target: string;
  status: number;
  bytesReceived: number;
  bytesSent: number;
}

/** Parses one ops log entry (a JSON object); undefined for anything else. */
export function parseOpsLogEntry(text: string): OpsLogEntry | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof raw['operation'] !== 'string' || typeof raw['uri'] !== 'string') return undefined;
  // "PUT /bucket/key?x-id=PutObject HTTP/1.1"
  const [method = '', target = ''] = raw['uri'].split(' ');
  return {
    operation: raw['operation'],
    method,
    target,
    status: Number(raw['http_status']),
    bytesReceived: Number(raw['bytes_received'] ?? 0),
    bytesSent: Number(raw['bytes_sent'] ?? 0),
  };
}

/** An entry longer than this is not one: the scanner lost its place (a torn write) and resyncs. */
const MAX_ENTRY_BYTES = 64 * 1024;
const [OPEN, CLOSE, QUOTE, BACKSLASH, NEWLINE] = ['{', '}', '"', '\\', '\n'].map((c) => c.charCodeAt(0));

/**
 * Splits ops log bytes into its entries. RGW 16.2 writes the log from several threads and now and
 * then leaves out the newline between two entries (seen here: `{...}{...}` on one line at 16
 * requests in flight), so entries are found by their braces, not by lines. Returns the complete
 * entries (each with the offset just after it), how many bytes they and the gaps between them take
 * (a partial entry at the end is left for the next read), and how many stretches were not an entry.
 */
export function scanOpsLog(bytes: Buffer): {
  entries: Array<{ text: string; end: number }>;
  consumed: number;
  unreadable: number;
} {
  const entries: Array<{ text: string; end: number }> = [];
  let unreadable = 0;
  let consumed = 0;
  let start = -1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let junk = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (depth === 0) {
      if (byte === OPEN) {
        start = i;
        depth = 1;
        junk = false;
      } else if (byte > 0x20 && !junk) {
        junk = true;
        unreadable++;
      }
      if (depth === 0) consumed = i + 1;
      continue;
    }
    if (i - start > MAX_ENTRY_BYTES) {
      // Give the stretch up and start again at the next line.
      unreadable++;
      const next = bytes.indexOf(NEWLINE as number, i);
      if (next < 0) return { entries, consumed: bytes.length, unreadable };
      i = next;
      depth = 0;
      inString = false;
      escaped = false;
      consumed = next + 1;
      continue;
    }
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === BACKSLASH) escaped = true;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN) depth++;
    else if (byte === CLOSE && --depth === 0) {
      entries.push({ text: bytes.subarray(start, i + 1).toString('utf8'), end: i + 1 });
      consumed = i + 1;
    }
  }
  return { entries, consumed, unreadable };
}

/**
 * The kind of S3 request a logged entry was. RGW logs HEAD Object as `get_obj` and UploadPart as
 * `put_obj`, so the method and query of the request line tell them apart.
 */
export function s3RequestKind(entry: OpsLogEntry): string {
  const query = entry.target.includes('?') ? entry.target.slice(entry.target.indexOf('?') + 1) : '';
  switch (entry.operation) {
    case 'put_obj':
      return /(^|[?&])partNumber=/.test(query) && /(^|[?&])uploadId=/.test(query) ? 'multipart part' : 'PUT object';
    case 'get_obj':
      return entry.method === 'HEAD' ? 'HEAD object' : 'GET object';
    case 'stat_bucket':
      return 'HEAD bucket';
    case 'list_bucket':
      return 'LIST objects';
    case 'list_bucket_multiparts':
    case 'list_multipart':
      return 'LIST multipart';
    case 'delete_obj':
      return 'DELETE object';
    case 'multi_object_delete':
      return 'DELETE objects (batch)';
    case 'init_multipart':
      return 'multipart init';
    case 'complete_multipart':
      return 'multipart complete';
    case 'abort_multipart':
      return 'multipart abort';
    case 'copy_obj':
      return 'COPY object';
    case 'create_bucket':
      return 'create bucket';
    default:
      return `${entry.method} ${entry.operation}`;
  }
}

/** S3 requests of a window, as RGW saw them. */
export interface S3RequestCount {
  /** Requests in the ops log. */
  total: number;
  /** By kind (s3RequestKind), largest first. */
  byKind: Record<string, number>;
  /** Of `total`, answered with HTTP status 400 or above. */
  failed: number;
  bytesReceived: number;
  bytesSent: number;
  /** Stretches of the log in the window that were not a readable entry (0 unless RGW tore a write). */
  unreadable: number;
  /**
   * Every request RGW received, from its own `req` counter (admin socket): it also counts what the
   * ops log leaves out (ListBuckets, requests refused at authentication). `undefined` if unreadable.
   */
  rgwRequests?: number;
}

/** Adds entries up by kind; `exclude` drops entries (e.g. the window's own markers). */
export class OpsLogTally {
  private readonly kinds = new Map<string, number>();
  private readonly count: Omit<S3RequestCount, 'byKind'> = {
    total: 0,
    failed: 0,
    bytesReceived: 0,
    bytesSent: 0,
    unreadable: 0,
  };

  constructor(private readonly exclude: (entry: OpsLogEntry) => boolean = () => false) {}

  add(text: string): void {
    const entry = parseOpsLogEntry(text);
    if (entry === undefined) {
      this.count.unreadable++;
      return;
    }
    if (this.exclude(entry)) return;
    this.count.total++;
    const kind = s3RequestKind(entry);
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    if (entry.status >= 400) this.count.failed++;
    this.count.bytesReceived += entry.bytesReceived;
    this.count.bytesSent += entry.bytesSent;
  }

  addUnreadable(stretches: number): void {
    this.count.unreadable += stretches;
  }

  result(): S3RequestCount {
    const byKind = Object.fromEntries(
      [...this.kinds.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    );
    return { ...this.count, byKind };
  }
}

const MARKER_PREFIX = '.mlr-ops-log-marker';
const MARKER_TIMEOUT_MS = 30_000;

/**
 * Counts the S3 requests RGW serves between `start` and `stop`, at the S3 side: from the ops log
 * of a Ceph started with `opsLog: true`, not from the code being measured. Each end of the window is
 * a marker request (a HEAD of a key that does not exist) awaited in the log, so that entries RGW has
 * not written yet are not missed and earlier ones are not counted; the markers themselves are not
 * counted. RGW's own request counter is read at both ends as a cross-check.
 */
export class RgwRequestCounter {
  private constructor(
    private readonly opsLog: NonNullable<CephInfo['opsLog']>,
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly startOffset: number,
    private readonly startRequests: number | undefined,
  ) {}

  /** `bucket`: where the markers go (it need not exist). */
  static async start(info: CephInfo, bucket: string): Promise<RgwRequestCounter> {
    const opsLog = info.opsLog;
    if (opsLog === undefined) throw new Error('this Ceph runs without its ops log: start it with opsLog: true');
    const client = new S3Client({
      endpoint: info.endpoint,
      region: info.region,
      forcePathStyle: true,
      credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const from = existsSync(opsLog.file) ? statSync(opsLog.file).size : 0;
      const marker = await sendMarker(client, bucket);
      const { end } = await readUntilMarker(opsLog.file, from, marker, () => undefined);
      // Read after the marker is logged: RGW counts a request when it arrives, logs it when it ends.
      const requests = await rgwRequestCounter(opsLog.adminSocket).catch(() => undefined);
      return new RgwRequestCounter(opsLog, client, bucket, end, requests);
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  async stop(): Promise<S3RequestCount> {
    try {
      const marker = await sendMarker(this.client, this.bucket);
      const tally = new OpsLogTally();
      const { unreadable } = await readUntilMarker(this.opsLog.file, this.startOffset, marker, (entry) =>
        tally.add(entry),
      );
      tally.addUnreadable(unreadable);
      const endRequests = await rgwRequestCounter(this.opsLog.adminSocket).catch(() => undefined);
      const count = tally.result();
      if (this.startRequests !== undefined && endRequests !== undefined) {
        // The end marker is in the counter but not in the window.
        count.rgwRequests = endRequests - this.startRequests - 1;
      }
      return count;
    } finally {
      this.client.destroy();
    }
  }
}

async function sendMarker(client: S3Client, bucket: string): Promise<string> {
  const id = randomUUID();
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${MARKER_PREFIX}/${id}` }));
  } catch (error) {
    // 404 is the expected answer; anything else is logged too, or the wait below says it was not.
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined) throw error;
  }
  return id;
}

/**
 * Reads the entries after `from` as RGW writes them, handing each to `onEntry`, until the entry of
 * the marker request `marker`; returns the offset just after it and the unreadable stretches seen.
 */
async function readUntilMarker(
  file: string,
  from: number,
  marker: string,
  onEntry: (entry: string) => void,
): Promise<{ end: number; unreadable: number }> {
  const deadline = Date.now() + MARKER_TIMEOUT_MS;
  const slice = 4 * 1024 * 1024;
  let offset = from;
  let unreadable = 0;
  for (;;) {
    const size = existsSync(file) ? statSync(file).size : 0;
    while (offset < size) {
      const bytes = readRange(file, offset, Math.min(size, offset + slice));
      const scanned = scanOpsLog(bytes);
      for (const entry of scanned.entries) {
        // The entries are in the order RGW wrote them: the marker's ends the window.
        if (entry.text.includes(marker))
          return { end: offset + entry.end, unreadable: unreadable + scanned.unreadable };
        if (!entry.text.includes(`/${MARKER_PREFIX}/`)) onEntry(entry.text);
      }
      unreadable += scanned.unreadable;
      if (scanned.consumed === 0) break;
      offset += scanned.consumed;
    }
    if (Date.now() > deadline) {
      throw new Error(`RGW's ops log ${file} did not show the marker request ${marker} within ${MARKER_TIMEOUT_MS} ms`);
    }
    await sleep(20);
  }
}

function readRange(file: string, from: number, to: number): Buffer {
  const buffer = Buffer.alloc(to - from);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < buffer.length) {
      const read = readSync(fd, buffer, done, buffer.length - done, from + done);
      if (read === 0) break;
      done += read;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/**
 * RGW's `req` performance counter through its admin socket (the protocol of `ceph --admin-daemon`:
 * a JSON command ended by NUL; the answer is a 4-byte big-endian length and that many bytes).
 */
export function rgwRequestCounter(adminSocket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(adminSocket);
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(5_000, () => fail(new Error(`no answer from RGW's admin socket ${adminSocket}`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write(`${JSON.stringify({ prefix: 'perf dump', logger: 'rgw' })}\0`));
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (received.length < 4 || received.length < 4 + received.readUInt32BE(0)) return;
      socket.destroy();
      try {
        const dump = JSON.parse(received.subarray(4, 4 + received.readUInt32BE(0)).toString('utf8')) as {
          rgw?: { req?: number };
        };
        if (typeof dump.rgw?.req !== 'number') throw new Error('no rgw.req counter in the perf dump');
        resolve(dump.rgw.req);
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}
