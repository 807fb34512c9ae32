import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CephInfo } from './ceph.js';

/** One line of RGW's ops log, as far as counting needs it. */
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

/** Parses one ops log line (JSON); undefined for a blank, partial or foreign line. */
export function parseOpsLogLine(line: string): OpsLogEntry | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
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

/**
 * The kind of S3 request a logged line was. RGW logs HEAD Object as `get_obj` and UploadPart as
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
  /**
   * Every request RGW received, from its own `req` counter (admin socket): it also counts what the
   * ops log leaves out (ListBuckets, requests refused at authentication). `undefined` if unreadable.
   */
  rgwRequests?: number;
}

/** Adds the lines of a window up; `exclude` drops lines (e.g. the window's own markers). */
export function countOpsLog(lines: Iterable<string>, exclude: (entry: OpsLogEntry) => boolean = () => false) {
  const count: S3RequestCount = { total: 0, byKind: {}, failed: 0, bytesReceived: 0, bytesSent: 0 };
  const kinds = new Map<string, number>();
  for (const line of lines) {
    const entry = parseOpsLogLine(line);
    if (entry === undefined || exclude(entry)) continue;
    count.total++;
    const kind = s3RequestKind(entry);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (entry.status >= 400) count.failed++;
    count.bytesReceived += entry.bytesReceived;
    count.bytesSent += entry.bytesSent;
  }
  count.byKind = Object.fromEntries([...kinds.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  return count;
}

const MARKER_PREFIX = '.mlr-ops-log-marker';
const MARKER_TIMEOUT_MS = 30_000;

/**
 * Counts the S3 requests RGW serves between `start` and `stop`, at the S3 side: from the ops log
 * of a Ceph started with `opsLog: true`, not from the code being measured. Each end of the window is
 * a marker request (a HEAD of a key that does not exist) awaited in the log, so that lines RGW has
 * not written yet are not missed and earlier ones are not counted; the markers themselves are not
 * counted. RGW's own request counter is read at both ends as a cross-check.
 */
export class RgwRequestCounter {
  private constructor(
    private readonly info: CephInfo & { opsLog: NonNullable<CephInfo['opsLog']> },
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
    const from = existsSync(opsLog.file) ? statSync(opsLog.file).size : 0;
    const marker = await sendMarker(client, bucket);
    const line = await waitForLine(opsLog.file, from, marker);
    // Read after the marker is logged: RGW counts a request when it arrives, logs it when it ends.
    const requests = await rgwRequestCounter(opsLog.adminSocket).catch(() => undefined);
    return new RgwRequestCounter({ ...info, opsLog }, client, bucket, line.end, requests);
  }

  async stop(): Promise<S3RequestCount> {
    try {
      const marker = await sendMarker(this.client, this.bucket);
      const line = await waitForLine(this.info.opsLog.file, this.startOffset, marker);
      const endRequests = await rgwRequestCounter(this.info.opsLog.adminSocket).catch(() => undefined);
      const count = countOpsLog(readLines(this.info.opsLog.file, this.startOffset, line.start), (entry) =>
        entry.target.includes(`/${MARKER_PREFIX}/`),
      );
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

/** Waits until a complete line containing `needle` appears after `from`; returns its byte range. */
async function waitForLine(file: string, from: number, needle: string): Promise<{ start: number; end: number }> {
  const deadline = Date.now() + MARKER_TIMEOUT_MS;
  let scanned = from;
  for (;;) {
    if (existsSync(file)) {
      const size = statSync(file).size;
      if (size > scanned) {
        const text = readRange(file, scanned, size);
        // Only complete lines: RGW may be half-way through writing the last one.
        const complete = text.subarray(0, text.lastIndexOf(0x0a) + 1);
        const at = complete.indexOf(needle);
        if (at >= 0) {
          const lineStart = complete.lastIndexOf(0x0a, at) + 1;
          const lineEnd = complete.indexOf(0x0a, at) + 1;
          return { start: scanned + lineStart, end: scanned + lineEnd };
        }
        scanned += complete.length;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`RGW's ops log ${file} did not show the marker request ${needle} within ${MARKER_TIMEOUT_MS} ms`);
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

/** The lines of `file` between two byte offsets, read in slices (a window may hold many MB). */
function* readLines(file: string, from: number, to: number): Generator<string> {
  const slice = 4 * 1024 * 1024;
  let rest = '';
  for (let offset = from; offset < to; offset += slice) {
    const text = rest + readRange(file, offset, Math.min(to, offset + slice)).toString('utf8');
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    yield* lines;
  }
  if (rest !== '') yield rest;
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
