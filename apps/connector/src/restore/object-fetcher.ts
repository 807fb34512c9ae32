import { FETCH_BATCH_MAX_OBJECTS, FETCH_MAX_BYTES, tenantCallSubjects, type TenantCalls } from '@mlr/contracts';
import { exponentialDelay, tenantCallClient, type MessagingConnection, type ServiceReply } from '@mlr/messaging';

type FetchRequest = TenantCalls['objects.fetch']['request'];
type FetchResponse = TenantCalls['objects.fetch']['response'];

/** The part of the tenant-call client the fetcher uses (a fake in unit tests). */
export interface ObjectFetchClient {
  request(
    verb: 'objects.fetch',
    subject: ReturnType<(typeof tenantCallSubjects)['objects.fetch']>,
    payload: FetchRequest,
    options?: { timeoutMs?: number },
  ): Promise<ServiceReply<FetchResponse>>;
}

export interface ObjectFetcherOptions {
  /** Wait for one slice; default 30 s (storage reads up to FETCH_MAX_BYTES from S3 per call). */
  timeoutMs?: number;
  /**
   * Tries per slice when storage is unreachable or fails inside; default 8: with the pauses, a
   * restore rides out about a minute of storage, its database or S3 being away (a restart) before
   * an item fails.
   */
  attempts?: number;
  /** Pause before trying a slice again, doubled each time up to MAX_RETRY_DELAY_MS; default 500 ms. */
  retryDelayMs?: number;
  /** Bytes asked per call; default and maximum FETCH_MAX_BYTES. */
  sliceBytes?: number;
}

/** Why a sealed object could not be fetched; `code` is the service error code (`not_found`, `timeout`, ...). */
export class ObjectFetchError extends Error {
  override readonly name = 'ObjectFetchError';

  constructor(
    readonly contentId: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One content id of a batch fetch: its sealed bytes, only its size (ask again), or why not. */
export type BatchAnswer =
  | { contentId: string; sealed: Buffer }
  | { contentId: string; sealedSize: number }
  | { contentId: string; error: ObjectFetchError };

/** Service error codes worth another try: the next slice request may reach a healthy replica. */
const TRANSIENT = new Set(['timeout', 'unavailable', 'internal']);
/** Longest pause between two tries of a slice. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Fetches the sealed object of a content id from storage (`objects.fetch` on the connector's own
 * tenant subject), slice by slice: the first reply tells the whole size. The bytes stay sealed;
 * opening them needs the tenant key, which only the connector has.
 */
export class ObjectFetcher {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly sliceBytes: number;

  constructor(
    private readonly client: ObjectFetchClient,
    private readonly tenantId: string,
    options: ObjectFetcherOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.attempts = Math.max(1, options.attempts ?? 8);
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.sliceBytes = options.sliceBytes ?? FETCH_MAX_BYTES;
    if (!Number.isInteger(this.sliceBytes) || this.sliceBytes < 1 || this.sliceBytes > FETCH_MAX_BYTES) {
      throw new Error(`sliceBytes must be a whole number from 1 to ${FETCH_MAX_BYTES}, got ${options.sliceBytes}`);
    }
  }

  /** A fetcher on the connector's NATS connection (tenant-scoped credentials). */
  static forConnection(
    connection: MessagingConnection,
    tenantId: string,
    options: ObjectFetcherOptions = {},
  ): ObjectFetcher {
    return new ObjectFetcher(tenantCallClient(connection), tenantId, options);
  }

  /** The whole sealed object; throws ObjectFetchError (naming the content id) when it cannot. */
  async fetchSealed(contentId: string): Promise<Buffer> {
    const first = await this.slice(contentId, 0);
    const sealedSize = first.sealedSize;
    const parts: Buffer[] = [first.data];
    let received = first.data.length;
    while (received < sealedSize) {
      const next = await this.slice(contentId, received);
      if (next.sealedSize !== sealedSize) {
        throw new ObjectFetchError(
          contentId,
          'invalid_response',
          `sealed object ${contentId} changed size while it was fetched (${sealedSize} bytes, then ${next.sealedSize})`,
        );
      }
      parts.push(next.data);
      received += next.data.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, received);
  }

  private async slice(contentId: string, offset: number): Promise<{ sealedSize: number; data: Buffer }> {
    const subject = tenantCallSubjects['objects.fetch'](this.tenantId);
    const request = { tenantId: this.tenantId, contentId, offset, length: this.sliceBytes };
    for (let attempt = 1; ; attempt++) {
      const reply = await this.client.request('objects.fetch', subject, request, { timeoutMs: this.timeoutMs });
      if (reply.ok) return this.checked(contentId, offset, reply.value);
      const { code, message } = reply.error;
      if (TRANSIENT.has(code) && attempt < this.attempts) {
        const pause = exponentialDelay(attempt, { baseMs: this.retryDelayMs, maxMs: MAX_RETRY_DELAY_MS });
        await new Promise((resolve) => setTimeout(resolve, pause));
        continue;
      }
      throw new ObjectFetchError(contentId, code, this.describeFailure(contentId, offset, code, message, attempt));
    }
  }

  /**
   * Several whole sealed objects in one call: storage answers each content id with its bytes, with
   * only its size (it did not fit in this reply), or with why it cannot be had. Throws
   * ObjectFetchError when the call itself fails (code `invalid_request` from a storage that does not
   * know batches).
   */
  async fetchBatch(contentIds: readonly string[]): Promise<BatchAnswer[]> {
    if (contentIds.length === 0) return [];
    if (contentIds.length > FETCH_BATCH_MAX_OBJECTS) {
      throw new RangeError(`at most ${FETCH_BATCH_MAX_OBJECTS} content ids per batch, got ${contentIds.length}`);
    }
    const subject = tenantCallSubjects['objects.fetch'](this.tenantId);
    const request = { tenantId: this.tenantId, contentIds: [...contentIds] };
    const [first] = contentIds as [string];
    const reply = await this.client.request('objects.fetch', subject, request, { timeoutMs: this.timeoutMs });
    if (!reply.ok) {
      throw new ObjectFetchError(
        first,
        reply.error.code,
        `fetching ${contentIds.length} sealed objects at once failed: ${reply.error.code}: ${reply.error.message}`,
      );
    }
    const value = reply.value;
    const answers = 'objects' in value ? value.objects : undefined;
    if (!answers || answers.length !== contentIds.length || answers.some((a, i) => a.contentId !== contentIds[i])) {
      throw new ObjectFetchError(
        first,
        'invalid_response',
        'storage answered a batch fetch with other objects than asked',
      );
    }
    return answers.map((answer): BatchAnswer => {
      const { contentId } = answer;
      if ('error' in answer) {
        const { code, message } = answer.error;
        return {
          contentId,
          error: new ObjectFetchError(contentId, code, this.describeFailure(contentId, 0, code, message, 1)),
        };
      }
      if (answer.data === undefined) return { contentId, sealedSize: answer.sealedSize };
      const sealed = Buffer.from(answer.data, 'base64');
      if (sealed.length !== answer.sealedSize) {
        return {
          contentId,
          error: new ObjectFetchError(
            contentId,
            'invalid_response',
            `storage answered wrongly for ${contentId}: it returned ${sealed.length} bytes of a sealed object of ${answer.sealedSize}`,
          ),
        };
      }
      return { contentId, sealed };
    });
  }

  private checked(contentId: string, offset: number, reply: FetchResponse): { sealedSize: number; data: Buffer } {
    if ('objects' in reply) {
      throw new ObjectFetchError(
        contentId,
        'invalid_response',
        `storage answered a range fetch of ${contentId} with a batch`,
      );
    }
    const value = reply;
    const data = Buffer.from(value.data, 'base64');
    const expected = Math.min(this.sliceBytes, value.sealedSize - offset);
    const problem =
      value.contentId !== contentId
        ? `it answered for content id ${value.contentId}`
        : value.offset !== offset
          ? `it answered offset ${value.offset} instead of ${offset}`
          : data.length !== expected
            ? `it returned ${data.length} bytes at offset ${offset} where ${expected} were due (sealed size ${value.sealedSize})`
            : undefined;
    if (problem) {
      throw new ObjectFetchError(
        contentId,
        'invalid_response',
        `storage answered wrongly for ${contentId}: ${problem}`,
      );
    }
    return { sealedSize: value.sealedSize, data };
  }

  private describeFailure(contentId: string, offset: number, code: string, message: string, tries: number): string {
    const where = `fetching sealed object ${contentId} at offset ${offset}`;
    const afterTries = tries > 1 ? ` (after ${tries} tries)` : '';
    switch (code) {
      case 'not_found':
        return `storage has no object with content id ${contentId} for tenant ${this.tenantId}: ${message}`;
      case 'timeout':
        return `${where}: storage did not answer in time${afterTries}: ${message}`;
      case 'unavailable':
        return `${where}: storage is unreachable${afterTries}: ${message}`;
      default:
        return `${where} failed${afterTries}: ${code}: ${message}`;
    }
  }
}

/**
 * The sealed objects of a restore, asked for in batches: every `fetchSealed` made in the same turn
 * of the event loop (a restore prepares the next messages of its job together) goes out as one
 * `objects.fetch` of up to FETCH_BATCH_MAX_OBJECTS content ids. An object the batch could not carry
 * (too large, or it did not fit in the reply) and one that failed for a reason worth another try
 * is fetched on its own, by ranges with retries; a storage that does not know batches is asked one
 * object at a time from then on.
 */
export class BatchingObjectSource {
  private queue: Array<{ contentId: string; resolve: (sealed: Buffer) => void; reject: (error: Error) => void }> = [];
  private scheduled = false;
  private batches = true;

  constructor(private readonly fetcher: ObjectFetcher) {}

  fetchSealed(contentId: string): Promise<Buffer> {
    if (!this.batches) return this.fetcher.fetchSealed(contentId);
    return new Promise((resolve, reject) => {
      this.queue.push({ contentId, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.queue;
    this.queue = [];
    // One request per distinct content id; the same object asked twice is answered twice.
    const byId = new Map<string, typeof waiting>();
    for (const entry of waiting) byId.set(entry.contentId, [...(byId.get(entry.contentId) ?? []), entry]);
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += FETCH_BATCH_MAX_OBJECTS) {
      void this.fetchGroup(ids.slice(i, i + FETCH_BATCH_MAX_OBJECTS), byId);
    }
  }

  private async fetchGroup(
    ids: string[],
    waiters: Map<string, Array<{ resolve: (sealed: Buffer) => void; reject: (error: Error) => void }>>,
  ): Promise<void> {
    const settle = (id: string, outcome: Promise<Buffer>) =>
      outcome.then(
        (sealed) => waiters.get(id)?.forEach((w) => w.resolve(sealed)),
        (error: Error) => waiters.get(id)?.forEach((w) => w.reject(error)),
      );
    let answers: BatchAnswer[];
    try {
      answers = ids.length === 1 ? [] : await this.fetcher.fetchBatch(ids);
    } catch (error) {
      if ((error as ObjectFetchError).code === 'invalid_request') this.batches = false;
      answers = [];
    }
    if (answers.length === 0) {
      // One object, or the batch call failed: each on its own (with the single fetch's retries).
      await Promise.all(ids.map((id) => settle(id, this.fetcher.fetchSealed(id))));
      return;
    }
    const again: string[] = [];
    for (const answer of answers) {
      const id = answer.contentId;
      if ('sealed' in answer) settle(id, Promise.resolve(answer.sealed));
      else if ('error' in answer) {
        if (TRANSIENT.has(answer.error.code)) settle(id, this.fetcher.fetchSealed(id));
        else settle(id, Promise.reject(answer.error));
      } else if (answer.sealedSize > FETCH_MAX_BYTES) settle(id, this.fetcher.fetchSealed(id));
      else again.push(id);
    }
    // Those that did not fit in this reply go in the next batch (storage always fits the first one
    // asked; one that answers with sizes only is asked one object at a time instead).
    if (again.length === ids.length) await Promise.all(again.map((id) => settle(id, this.fetcher.fetchSealed(id))));
    else if (again.length > 0) await this.fetchGroup(again, waiters);
  }
}
