import { randomBytes } from 'node:crypto';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  searchResultSchema,
  serviceErrorReplySchema,
  serviceSubject,
  type Importance,
  type ItemType,
  type SearchHit,
  type SearchResult,
  type ServiceErrorReply,
} from '@mlr/contracts';
import type { PrismaClient } from '@mlr/db';
import { servicesNatsClientOptions, type LocalInfrastructure } from '@mlr/testing';

/** One index record as a search test writes it (the columns searches look at). */
export interface RecordSpec {
  tenantId: string;
  mailbox: string;
  folder: string;
  uid: number;
  submissionDate: Date | null;
  internalDate: Date | null;
  sender: string | null;
  senderName: string | null;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string | null;
  attachmentNames: string[];
  hasAttachment: boolean;
  followUp: boolean;
  importance: Importance;
  itemType: ItemType;
  seen: boolean;
  answered: boolean;
  flagged: boolean;
  size: number;
  backupJobId: string | null;
}

export interface StoredSpec extends RecordSpec {
  id: string;
}

export function aRecord(tenantId: string, uid: number, overrides: Partial<RecordSpec> = {}): RecordSpec {
  return {
    tenantId,
    mailbox: 'alice@acme.test',
    folder: 'INBOX',
    uid,
    submissionDate: new Date(Date.UTC(2024, 0, 1) + uid * 3_600_000),
    internalDate: new Date(Date.UTC(2024, 0, 1) + uid * 3_600_000 + 60_000),
    sender: 'bob@example.org',
    senderName: 'Bob Sender',
    to: ['alice@acme.test'],
    cc: [],
    bcc: [],
    subject: `message ${uid}`,
    attachmentNames: [],
    hasAttachment: false,
    followUp: false,
    importance: 'normal',
    itemType: 'mail',
    seen: false,
    answered: false,
    flagged: false,
    size: 1_000 + uid,
    backupJobId: 'job-1',
    ...overrides,
  };
}

/** Writes tenant, stored objects and index records straight into the database (one object per record). */
export async function insertRecords(prisma: PrismaClient, specs: readonly RecordSpec[]): Promise<StoredSpec[]> {
  const stored: StoredSpec[] = [];
  for (const spec of specs) {
    const contentId = randomBytes(32).toString('hex');
    const object = await prisma.storedObject.create({
      data: {
        tenantId: spec.tenantId,
        contentId,
        bucket: 'mlr-objects',
        key: `tenants/${spec.tenantId}/objects/${contentId.slice(0, 2)}/${contentId}`,
        plainSize: spec.size,
        sealedSize: spec.size + 100,
        keyId: '0123456789abcdef',
        refCount: 1,
      },
    });
    const record = await prisma.indexRecord.create({
      data: {
        tenantId: spec.tenantId,
        mailbox: spec.mailbox,
        folder: spec.folder,
        sightingSource: 'imap',
        sightingEpoch: String(1),
        sightingId: String(spec.uid),
        contentId,
        objectId: object.id,
        messageId: `<m${spec.uid}@${spec.tenantId}>`,
        submissionDate: spec.submissionDate,
        internalDate: spec.internalDate,
        sender: spec.sender,
        senderName: spec.senderName,
        toAddresses: spec.to,
        ccAddresses: spec.cc,
        bccAddresses: spec.bcc,
        subject: spec.subject,
        attachmentNames: spec.attachmentNames,
        hasAttachment: spec.hasAttachment,
        followUp: spec.followUp,
        importance: spec.importance,
        itemType: spec.itemType,
        seen: spec.seen,
        answered: spec.answered,
        flagged: spec.flagged,
        size: spec.size,
        backupJobId: spec.backupJobId,
      },
      select: { id: true },
    });
    stored.push({ ...spec, id: record.id });
  }
  return stored;
}

export const messageDate = (spec: RecordSpec): Date | null => spec.submissionDate ?? spec.internalDate;

/** The result order: message date descending (undated last), then id descending. */
export function resultOrder(a: StoredSpec, b: StoredSpec): number {
  const da = messageDate(a)?.getTime() ?? Number.NEGATIVE_INFINITY;
  const db = messageDate(b)?.getTime() ?? Number.NEGATIVE_INFINITY;
  if (da !== db) return db - da;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Request/reply to the indexing service over NATS, as the gateway does it. */
export class SearchClient {
  private constructor(private readonly client: ClientProxy) {}

  static async connect(infra: LocalInfrastructure): Promise<SearchClient> {
    const client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
    await client.connect();
    return new SearchClient(client);
  }

  private send(request: unknown): Promise<unknown> {
    return firstValueFrom(
      this.client.send<unknown>(serviceSubject('indexing', 'records.search'), request).pipe(timeout(20_000)),
    );
  }

  /** One page; the reply is checked against its contract. */
  async search(request: Record<string, unknown>): Promise<SearchResult> {
    return searchResultSchema.parse(await this.send(request));
  }

  /** Every page of a search, in order. */
  async all(request: Record<string, unknown>): Promise<{ items: SearchHit[]; pages: number }> {
    const items: SearchHit[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: SearchResult = await this.search({ ...request, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      cursor = page.nextCursor;
      pages++;
      if (pages > 1_000) throw new Error('the search never ends');
    } while (cursor);
    return { items, pages };
  }

  /** The structured error of a refused search. */
  async refusal(request: Record<string, unknown>): Promise<ServiceErrorReply> {
    try {
      await this.send(request);
    } catch (error) {
      return serviceErrorReplySchema.parse(error);
    }
    throw new Error('the search was expected to be refused');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
