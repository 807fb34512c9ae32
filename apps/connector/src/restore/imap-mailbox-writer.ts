import { uidSet } from '../sources/imap/uid-set.js';
import type { ImapFlow } from 'imapflow';
import { contentId, type TenantKeys } from '@mlr/crypto';

/** What one APPEND writes. */
export interface AppendRequest {
  folder: string;
  raw: Buffer;
  flags: string[];
  internalDate: Date | null;
}

/** The IMAP Message-ID search term: the id without its angle brackets matches however the header wrote it. */
export function messageIdSearchTerm(messageId: string): string {
  return messageId.replace(/^<|>$/g, '');
}

/**
 * Writes restored messages into the folders of one mailbox over one IMAP session. Folders are
 * created (with their parents) and subscribed on first use; `findCopy` is the duplicate check.
 */
export class ImapMailboxWriter {
  private folders: Set<string> | undefined;
  private delimiter = '/';
  private namespacePrefixes: string[] = [];

  constructor(
    private readonly client: ImapFlow,
    private readonly keys: TenantKeys,
  ) {}

  get usable(): boolean {
    return this.client.usable;
  }

  /** Creates `folder` and any missing parent, and subscribes what it created. */
  async ensureFolder(folder: string): Promise<void> {
    const folders = await this.knownFolders();
    if (folders.has(folder)) return;
    const parts = folder.split(this.delimiter);
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = parts.slice(0, depth).join(this.delimiter);
      // A namespace prefix ("Public/") is not a folder of its own and cannot be created.
      if (!path || folders.has(path) || this.namespacePrefixes.includes(path + this.delimiter)) continue;
      try {
        await this.client.mailboxCreate(path);
      } catch (error) {
        throw new Error(`cannot create folder ${path}: ${imapErrorText(error)}`, { cause: error });
      }
      await this.client.mailboxSubscribe(path).catch(() => undefined);
      folders.add(path);
    }
  }

  /**
   * Whether `folder` already holds exactly this message (and not marked \Deleted): candidates by
   * Message-ID (when the message has one) and exact size, then their bytes' content id compared
   * with `expectedContentId`.
   * Returns the UID of the copy, or null.
   */
  async findCopy(
    folder: string,
    raw: Buffer,
    expectedContentId: string,
    messageId: string | null,
  ): Promise<number | null> {
    const box = await this.select(folder);
    if (box.exists === 0) return null;
    const size = raw.length;
    // A copy marked \Deleted is on its way out (the next EXPUNGE removes it): it does not count.
    const query = {
      deleted: false,
      ...(size > 0 ? { larger: size - 1 } : {}),
      smaller: size + 1,
      ...(messageId ? { header: { 'message-id': messageIdSearchTerm(messageId) } } : {}),
    };
    const uids = (await this.client.search(query, { uid: true })) || [];
    if (uids.length === 0) return null;
    for await (const message of this.client.fetch(uidSet(uids), { uid: true, source: true }, { uid: true })) {
      if (message.source && contentId(this.keys, message.source) === expectedContentId) return message.uid;
    }
    return null;
  }

  /** APPENDs the exact bytes with flags and INTERNALDATE; returns the new UID when the server says it. */
  async append(request: AppendRequest): Promise<number | undefined> {
    let response: Awaited<ReturnType<ImapFlow['append']>>;
    try {
      response = await this.client.append(
        request.folder,
        request.raw,
        request.flags,
        request.internalDate ?? undefined,
      );
    } catch (error) {
      throw new Error(`APPEND to ${request.folder} refused: ${imapErrorText(error)}`, { cause: error });
    }
    if (!response) throw new Error(`APPEND to ${request.folder} failed: the session is no longer usable`);
    return response.uid;
  }

  async close(): Promise<void> {
    await this.client.logout().catch(() => undefined);
  }

  /** Read-only: the duplicate check only searches and peeks (BODY.PEEK[] sets no \Seen). */
  private async select(folder: string): Promise<{ exists: number }> {
    const current = this.client.mailbox;
    if (current && current.path === folder) return current;
    try {
      return await this.client.mailboxOpen(folder, { readOnly: true });
    } catch (error) {
      throw new Error(`cannot open folder ${folder}: ${imapErrorText(error)}`, { cause: error });
    }
  }

  private async knownFolders(): Promise<Set<string>> {
    if (this.folders) return this.folders;
    const listed = await this.client.list();
    this.delimiter = listed.find((f) => f.delimiter)?.delimiter ?? this.client.namespace?.delimiter ?? '/';
    const namespaces = this.client.namespaces;
    this.namespacePrefixes = [
      ...(namespaces?.personal || []),
      ...(namespaces?.other || []),
      ...(namespaces?.shared || []),
    ]
      .map((ns) => ns.prefix)
      .filter((prefix) => prefix.length > 0);
    this.folders = new Set(listed.filter((f) => !f.flags.has('\\NonExistent')).map((f) => f.path));
    return this.folders;
  }
}

/** The server's words for a refused command (imapflow puts them in `responseText`). */
export function imapErrorText(error: unknown): string {
  const e = error as { responseText?: string; message?: string };
  return e.responseText || e.message || String(error);
}
