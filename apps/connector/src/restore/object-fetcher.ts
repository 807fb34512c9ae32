import { FETCH_MAX_BYTES, tenantCallSubjects, type TenantCalls } from '@mlr/contracts';
import { tenantCallClient, type MessagingConnection, type ServiceReply } from '@mlr/messaging';

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
  /** Tries per slice when storage is unreachable or fails inside; default 3. */
  attempts?: number;
  /** Pause before trying a slice again, doubled each time; default 500 ms. */
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

/** Service error codes worth another try: the next slice request may reach a healthy replica. */
const TRANSIENT = new Set(['timeout', 'unavailable', 'internal']);

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
    this.attempts = Math.max(1, options.attempts ?? 3);
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
        await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * 2 ** (attempt - 1)));
        continue;
      }
      throw new ObjectFetchError(contentId, code, this.describeFailure(contentId, offset, code, message, attempt));
    }
  }

  private checked(contentId: string, offset: number, value: FetchResponse): { sealedSize: number; data: Buffer } {
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
