import { createHash } from 'node:crypto';
import type {
  FolderCheckpoint,
  IndexRecord,
  ItemForm,
  JobCounters,
  JobEventState,
  RestoreItem,
  RestoreItemResult,
} from '@mlr/contracts';
import type { SealedMessage } from '@mlr/crypto';
import type { StructuredItemInput } from '@mlr/pim';
import {
  countItemResult,
  type JobError,
  type JobProgress,
  type SightingUploader,
  type UploadOutcome,
} from '../ports/job-progress.js';
import type {
  ContainerScan,
  MailboxSelection,
  MailSource,
  ScanOptions,
  SourceCursor,
  SourceMailbox,
  SourceRead,
  SourceSession,
} from '../ports/mail-source.js';
import {
  refusalByForm,
  type CopyCandidate,
  type MailTarget,
  type TargetSession,
  type TargetWrite,
} from '../ports/mail-target.js';

/**
 * In-memory stand-ins of the connector core's ports, for the runners' unit tests. The source keeps
 * items by position with a change counter per container (an IMAP server's UIDs and MODSEQs, in
 * miniature); the target keeps what was written per container.
 */

/** Records what a runner reports, as the connector's JobReporter would publish it. */
export class RecordingProgress implements JobProgress {
  readonly counters: JobCounters = { seen: 0, new: 0, deduplicated: 0, bytes: 0, failed: 0, restored: 0, skipped: 0 };
  readonly errorList: JobError[] = [];
  readonly checkpoints: FolderCheckpoint[] = [];
  readonly results: RestoreItemResult[] = [];
  readonly states: JobEventState[] = [];
  /** What each flush would have sent: its state and the item results since the one before. */
  readonly events: Array<{ state: JobEventState; items: RestoreItemResult[] }> = [];
  private pending: RestoreItemResult[] = [];

  get errors(): number {
    return this.errorList.length;
  }
  error(error: JobError): void {
    this.errorList.push(error);
  }
  checkpoint(checkpoint: FolderCheckpoint): void {
    this.checkpoints.push(checkpoint);
  }
  itemResult(result: RestoreItemResult): void {
    countItemResult(this.counters, result);
    this.results.push(result);
    this.pending.push(result);
  }
  ticks = 0;
  async tick(): Promise<void> {
    this.ticks++;
  }
  async flush(state: JobEventState): Promise<void> {
    this.states.push(state);
    this.events.push({ state, items: this.pending.splice(0) });
  }
  /** The last checkpoint reported for each container. */
  lastCheckpoints(): FolderCheckpoint[] {
    const last = new Map<string, FolderCheckpoint>();
    for (const cp of this.checkpoints) last.set(JSON.stringify([cp.mailbox, cp.folder]), cp);
    return [...last.values()];
  }
}

/** Takes every sighting as stored (or fails those `failing` names), keeping records in order. */
export class RecordingUploader implements SightingUploader {
  readonly records: IndexRecord[] = [];
  /** The sealed items, in the order the records came. */
  readonly sealed: SealedMessage[] = [];
  readonly flushes: string[] = [];
  private readonly stored = new Set<string>();
  constructor(private readonly failing: (record: IndexRecord) => boolean = () => false) {}
  async upload(_jobId: string, sealed: SealedMessage, record: IndexRecord): Promise<UploadOutcome> {
    if (this.failing(record)) throw new Error(`storage refused ${record.folder} ${record.sourceKey.id}`);
    this.records.push(record);
    this.sealed.push(sealed);
    const known = this.stored.has(sealed.contentId);
    this.stored.add(sealed.contentId);
    return { objectStored: known ? 'deduplicated' : 'new', recordStored: 'new' };
  }
  flush(jobId: string): void {
    this.flushes.push(jobId);
  }
}

interface StoredItem {
  position: number;
  content: { raw: Buffer } | { structured: StructuredItemInput };
  flags: string[];
  internalDate: Date | null;
  /** The container's change counter when the item was added or its flags last changed. */
  changedAt: number;
}

interface Container {
  epoch: string;
  next: number;
  changes: number;
  items: StoredItem[];
}

/** A mail source held in memory: mailboxes of containers of items. */
export class InMemoryMailSource implements MailSource {
  private readonly boxes = new Map<string, Map<string, Container>>();
  /** Mailboxes that refuse to be opened, with the reason. */
  readonly refused = new Map<string, string>();
  /** Containers (`mailbox/folder`) whose scan drops the session. */
  readonly droppingScans = new Set<string>();
  /** Positions an item is removed at just before it is read (`mailbox/folder` → positions). */
  readonly vanishing = new Map<string, Set<number>>();
  opened = 0;

  add(mailbox: string, folder: string, raw: Buffer, flags: string[] = []): number {
    return this.addContent(mailbox, folder, { raw }, flags);
  }

  /** Adds an item the source holds as fields (an appointment, a contact...). */
  addStructured(mailbox: string, folder: string, item: StructuredItemInput, flags: string[] = []): number {
    return this.addContent(mailbox, folder, { structured: item }, flags);
  }

  private addContent(mailbox: string, folder: string, content: StoredItem['content'], flags: string[]): number {
    const container = this.container(mailbox, folder);
    const position = container.next++;
    container.items.push({
      position,
      content,
      flags,
      internalDate: new Date(Date.UTC(2026, 0, position)),
      changedAt: ++container.changes,
    });
    return position;
  }

  setFlags(mailbox: string, folder: string, position: number, flags: string[]): void {
    const container = this.container(mailbox, folder);
    const item = container.items.find((i) => i.position === position);
    if (!item) throw new Error(`no item ${position} in ${mailbox}/${folder}`);
    item.flags = flags;
    item.changedAt = ++container.changes;
  }

  /** The container starts over with another epoch (IMAP: a new UIDVALIDITY). */
  renumber(mailbox: string, folder: string): void {
    const container = this.container(mailbox, folder);
    container.epoch = String(Number(container.epoch) + 1);
  }

  container(mailbox: string, folder: string): Container {
    let box = this.boxes.get(mailbox);
    if (!box) this.boxes.set(mailbox, (box = new Map()));
    let container = box.get(folder);
    if (!container) box.set(folder, (container = { epoch: '1', next: 1, changes: 0, items: [] }));
    return container;
  }

  mailboxes(selection: MailboxSelection): SourceMailbox[] {
    const names = selection.kind === 'all' ? [...this.boxes.keys()] : selection.mailboxes;
    return names.map((name) => ({ name, scope: 'personal' }));
  }

  async open(mailbox: SourceMailbox): Promise<SourceSession> {
    const refusal = this.refused.get(mailbox.name);
    if (refusal) throw new Error(refusal);
    this.opened++;
    const box = this.boxes.get(mailbox.name);
    if (!box) throw new Error(`no mailbox ${mailbox.name}`);
    return new InMemorySourceSession(this, mailbox.name, box);
  }
}

class InMemorySourceSession implements SourceSession {
  usable = true;
  constructor(
    private readonly source: InMemoryMailSource,
    private readonly mailbox: string,
    private readonly box: Map<string, Container>,
  ) {}

  async containers(): Promise<string[]> {
    return [...this.box.keys()];
  }

  async scan(folder: string, cursor: SourceCursor | undefined, options: ScanOptions): Promise<ContainerScan> {
    if (!this.usable) throw new Error('session closed');
    if (this.source.droppingScans.has(`${this.mailbox}/${folder}`)) {
      this.usable = false;
      throw new Error(`connection lost while opening ${folder}`);
    }
    const container = this.box.get(folder) as Container;
    const incremental =
      !options.full &&
      cursor !== undefined &&
      cursor.source === 'memory' &&
      cursor.version === 1 &&
      cursor.epoch === container.epoch;
    const committed = incremental ? Number(cursor.position) : 0;
    const since = incremental && cursor.changes !== null ? Number(cursor.changes) : null;
    const changes = String(container.changes);
    const newItems = container.items.filter((i) => i.position > committed).map((i) => i.position);
    const changedItems =
      since === null
        ? []
        : container.items.filter((i) => i.position <= committed && i.changedAt > since).map((i) => i.position);
    const vanishing = this.source.vanishing.get(`${this.mailbox}/${folder}`) ?? new Set<number>();
    const epoch = container.epoch;
    return {
      committed,
      scannedUpTo: container.next - 1,
      newItems,
      changedItems,
      async *read(positions: readonly number[]): AsyncGenerator<SourceRead> {
        for (const position of positions) {
          const item = container.items.find((i) => i.position === position);
          if (!item || vanishing.has(position)) {
            yield { gone: true, position };
            continue;
          }
          yield {
            gone: false,
            item: {
              position,
              sighting: { source: 'memory', epoch, id: String(position) },
              ...item.content,
              flags: [...item.flags],
              internalDate: item.internalDate,
            },
          };
        }
      },
      cursorAt: (position, complete) => ({
        source: 'memory',
        version: 1,
        epoch,
        position: String(position),
        changes: complete ? changes : incremental ? cursor.changes : null,
        state: null,
      }),
    };
  }

  async close(): Promise<void> {
    this.usable = false;
  }
}

/** One item written into an in-memory target container. */
export interface WrittenItem extends TargetWrite {
  id: string;
}

/** A mail target held in memory; its sessions can be made to drop or to refuse writes. */
export class InMemoryMailTarget implements MailTarget {
  readonly name = 'the test target';
  readonly containers = new Map<string, WrittenItem[]>();
  /** The forms it holds (like IMAP, messages only, unless a test says otherwise). */
  forms: ItemForm[] = ['rfc5322'];
  /** Mailboxes that cannot be opened, with the reason. */
  readonly refused = new Map<string, string>();
  /** The session drops after sending the write of items with these bytes (once each). */
  readonly dropAfterWrite = new Set<string>();
  /** Writes of items with these bytes are refused (the session stays usable). */
  readonly refuseWrite = new Set<string>();
  /** The next write of items with these bytes is refused, once each (the session stays usable). */
  readonly refuseWriteOnce = new Set<string>();
  /** How many of the coming copy checks drop the session. */
  dropChecks = 0;
  /** How many items each findCopies call was asked about. */
  readonly checks: number[] = [];
  opened = 0;
  private nextId = 1;

  accepts(_mailbox: string, item: Pick<RestoreItem, 'itemType' | 'form'>): string | null {
    return refusalByForm('the test target', this.forms, item);
  }

  written(mailbox: string, folder: string): WrittenItem[] {
    return this.containers.get(`${mailbox}/${folder}`) ?? [];
  }

  async open(mailbox: string): Promise<TargetSession> {
    const refusal = this.refused.get(mailbox);
    if (refusal) throw new Error(refusal);
    this.opened++;
    return new InMemoryTargetSession(this, mailbox);
  }

  /** A new id for a written item. */
  issueId(): string {
    return String(this.nextId++);
  }
}

class InMemoryTargetSession implements TargetSession {
  usable = true;
  constructor(
    private readonly target: InMemoryMailTarget,
    private readonly mailbox: string,
  ) {}

  private container(folder: string): WrittenItem[] {
    if (!this.usable) throw new Error('session closed');
    const list = this.target.containers.get(`${this.mailbox}/${folder}`);
    if (!list) throw new Error(`no container ${folder}`);
    return list;
  }

  async ensureContainer(folder: string): Promise<void> {
    if (!this.usable) throw new Error('session closed');
    const key = `${this.mailbox}/${folder}`;
    if (!this.target.containers.has(key)) this.target.containers.set(key, []);
  }

  async findCopies(folder: string, candidates: readonly CopyCandidate[]): Promise<Array<string | null>> {
    const list = this.container(folder);
    if (this.target.dropChecks > 0) {
      this.target.dropChecks--;
      this.usable = false;
      throw new Error('connection lost during the copy check');
    }
    this.target.checks.push(candidates.length);
    return candidates.map((c) => list.find((w) => w.raw.equals(c.raw))?.id ?? null);
  }

  async write(folder: string, item: TargetWrite): Promise<{ dropped: string[] }> {
    const list = this.container(folder);
    const key = digest(item.raw);
    if (this.target.refuseWrite.has(key) || this.target.refuseWriteOnce.delete(key)) {
      throw new Error('the target refused the item');
    }
    list.push({ ...item, id: this.target.issueId() });
    if (this.target.dropAfterWrite.delete(key)) {
      this.usable = false;
      throw new Error('connection lost after the write was sent');
    }
    return { dropped: item.item.keywords.filter((k) => k.includes(' ')) };
  }

  async close(): Promise<void> {
    this.usable = false;
  }
}

/** How the fakes name an item's bytes. */
export function digest(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}
