import {
  refusalByForm,
  type CopyCandidate,
  type MailTarget,
  type TargetSession,
  type TargetWrite,
} from '@mlr/connector-core';
import type { TenantKeys } from '@mlr/crypto';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { appendFlags } from './append-flags.js';
import { imapLoginFor } from './imap-mail-source.js';
import { FolderListings, ImapMailboxWriter } from './imap-mailbox-writer.js';
import { openImapSession } from './imap-session.js';

export interface ImapMailTargetOptions {
  /**
   * The duplicate check's folder listings, shared by every session writing through this target (and
   * by every restore job of the connector when they share the target). Default: the target's own,
   * brought up to date before every check.
   */
  listings?: FolderListings;
  /** Opens the IMAP session of a mailbox; default the backup's own (master user or own password). */
  openSession?: typeof openImapSession;
}

/**
 * An IMAP server (Microsoft 365 over IMAP included) as a restore target: a session per mailbox
 * (through the service account, or the owner's own credentials), folders created on first use,
 * messages APPENDed with their flags, keywords and INTERNALDATE.
 */
export class ImapMailTarget implements MailTarget {
  readonly name = 'IMAP';
  private readonly listings: FolderListings;

  constructor(
    private readonly config: ImapSourceConfig,
    private readonly keys: TenantKeys,
    private readonly options: ImapMailTargetOptions = {},
  ) {
    this.listings = options.listings ?? new FolderListings(0);
  }

  /** An IMAP mailbox holds messages: items stored as iCalendar or vCard are refused. */
  accepts(_mailbox: string, item: Parameters<MailTarget['accepts']>[1]): string | null {
    return refusalByForm('an IMAP mailbox', ['rfc5322'], item);
  }

  async open(mailbox: string): Promise<TargetSession> {
    const login = imapLoginFor(this.config, mailbox);
    const client = await (this.options.openSession ?? openImapSession)(this.config, login);
    return new ImapTargetSession(new ImapMailboxWriter(client, this.keys, { listings: this.listings, mailbox }));
  }
}

class ImapTargetSession implements TargetSession {
  constructor(private readonly writer: ImapMailboxWriter) {}

  get usable(): boolean {
    return this.writer.usable;
  }

  ensureContainer(folder: string): Promise<void> {
    return this.writer.ensureFolder(folder);
  }

  async findCopies(folder: string, candidates: readonly CopyCandidate[]): Promise<Array<string | null>> {
    const uids = await this.writer.findCopies(folder, candidates);
    return uids.map((uid) => (uid === null ? null : String(uid)));
  }

  async write(folder: string, { raw, item }: TargetWrite): Promise<{ dropped: string[] }> {
    const { flags, dropped } = appendFlags(item);
    await this.writer.append({
      folder,
      raw,
      flags,
      internalDate: item.internalDate ? new Date(item.internalDate) : null,
    });
    return { dropped };
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
