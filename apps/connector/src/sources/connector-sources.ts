import { RoutedMailSource, RoutedMailTarget, type MailSource, type MailTarget } from '@mlr/connector-core';
import type { TenantKeys } from '@mlr/crypto';
import { readsPublicFolders, type NamedSourceConfig, type SourceRouting } from '../config/connector-config.js';
import { ImapMailSource, PUBLIC_FOLDERS_MAILBOX } from './imap/imap-mail-source.js';
import { ImapMailTarget, type ImapMailTargetOptions } from './imap/imap-mail-target.js';

/** A mailbox no source of the connector can be said to hold: the reason, for the job's error. */
export class UnroutedMailbox extends Error {
  override readonly name = 'UnroutedMailbox';
}

/**
 * Which of the connector's sources holds `mailbox` (its index in `sources`), or throws UnroutedMailbox
 * saying why none does:
 * - the source that lists it (a mailbox is listed in one source only: the configuration is checked;
 *   addresses compare without case);
 * - with one source, that source (it says itself whether it can open the mailbox);
 * - else the operator's `defaultSource`; without one the mailbox is refused: separate mail systems
 *   share names (info@, admin@), and a guess could read or restore another system's mailbox;
 * - the public folders (`#public`): `publicFoldersSource`, else the one source that can read them.
 */
export function sourceIndexOf(routing: SourceRouting, mailbox: string): number {
  const { sources } = routing;
  const named = (name: string | undefined) => (name === undefined ? -1 : sources.findIndex((s) => s.name === name));
  if (mailbox === PUBLIC_FOLDERS_MAILBOX) {
    const chosen = named(routing.publicFoldersSource);
    if (chosen >= 0) return chosen;
    const readers = sources.flatMap((source, index) => (readsPublicFolders(source) ? [index] : []));
    if (readers.length === 1) return readers[0] as number;
    if (sources.length === 1) return 0;
    throw new UnroutedMailbox(
      readers.length === 0
        ? 'public folders can only be reached with a service account and a configured mailbox, and no source has both'
        : 'several sources could back up public folders, and publicFoldersSource names none of them',
    );
  }
  const key = mailbox.toLowerCase();
  const listed = sources.findIndex((source) => source.mailboxes.some((m) => m.address.toLowerCase() === key));
  if (listed >= 0) return listed;
  if (sources.length === 1) return 0;
  const fallback = named(routing.defaultSource);
  if (fallback >= 0) return fallback;
  throw new UnroutedMailbox(
    `mailbox ${mailbox} is listed in no source of this connector (${sources.map((s) => s.name).join(', ')}): ` +
      'list it in the source that holds it, or name a defaultSource',
  );
}

/** The source that holds `mailbox` (see sourceIndexOf). */
export function sourceOf(routing: SourceRouting, mailbox: string): NamedSourceConfig {
  return routing.sources[sourceIndexOf(routing, mailbox)] as NamedSourceConfig;
}

/** Every source of the connector as one MailSource: each mailbox read from the source that holds it. */
export function connectorMailSource(routing: SourceRouting): MailSource {
  const { sources } = routing;
  if (sources.length === 1) return new ImapMailSource(sources[0] as NamedSourceConfig);
  return new RoutedMailSource(
    sources.map((source) => ({ name: source.name, port: new ImapMailSource(source) })),
    (mailbox) => sourceIndexOf(routing, mailbox),
  );
}

/** Every source of the connector as one MailTarget: each mailbox written through the source that holds it. */
export function connectorMailTarget(
  routing: SourceRouting,
  keys: TenantKeys,
  options: ImapMailTargetOptions = {},
): MailTarget {
  const { sources } = routing;
  if (sources.length === 1) return new ImapMailTarget(sources[0] as NamedSourceConfig, keys, options);
  return new RoutedMailTarget(
    sources.map((source) => ({ name: source.name, port: new ImapMailTarget(source, keys, options) })),
    (mailbox) => sourceIndexOf(routing, mailbox),
  );
}
