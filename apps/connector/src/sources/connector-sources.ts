import { RoutedMailSource, RoutedMailTarget, type MailSource, type MailTarget } from '@mlr/connector-core';
import type { TenantKeys } from '@mlr/crypto';
import type { NamedSourceConfig } from '../config/connector-config.js';
import { ImapMailSource, PUBLIC_FOLDERS_MAILBOX } from './imap/imap-mail-source.js';
import { ImapMailTarget, type ImapMailTargetOptions } from './imap/imap-mail-target.js';

/** A mailbox no source of the connector can be said to hold: the reason, for the job's error. */
export class UnroutedMailbox extends Error {
  override readonly name = 'UnroutedMailbox';
}

/** Whether a source opens any mailbox (a service account, or a Microsoft 365 app), not only those it lists. */
function opensAnyMailbox(source: NamedSourceConfig): boolean {
  return source.serviceAccount !== undefined || source.microsoft365App !== undefined;
}

/**
 * Which of the connector's sources holds `mailbox` (its index in `sources`), or throws UnroutedMailbox
 * saying why none does:
 * - the source that lists it (a mailbox is listed in one source only: the configuration is checked);
 * - with one source, that source (it says itself whether it can open the mailbox);
 * - else the one source that opens any mailbox; none, or several, is an error (list it where it is);
 * - the public folders (`#public`): the first source with a service account and a listed mailbox.
 */
export function sourceIndexOf(sources: readonly NamedSourceConfig[], mailbox: string): number {
  if (mailbox === PUBLIC_FOLDERS_MAILBOX) {
    const index = sources.findIndex((source) => source.serviceAccount !== undefined && source.mailboxes.length > 0);
    if (index < 0) {
      throw new UnroutedMailbox(
        'public folders can only be reached with a service account and a configured mailbox, and no source has both',
      );
    }
    return index;
  }
  const key = mailbox.toLowerCase();
  const listed = sources.findIndex((source) => source.mailboxes.some((m) => m.address.toLowerCase() === key));
  if (listed >= 0) return listed;
  if (sources.length === 1) return 0;
  const openers = sources.flatMap((source, index) => (opensAnyMailbox(source) ? [index] : []));
  if (openers.length === 1) return openers[0] as number;
  const names = openers.map((index) => sources[index]?.name).join(', ');
  throw new UnroutedMailbox(
    openers.length === 0
      ? `mailbox ${mailbox} is listed in no source of this connector, and no source has a service account or Microsoft 365 app to open it: list it in its source`
      : `mailbox ${mailbox} is listed in no source of this connector, and several (${names}) could open it: list it in the source that holds it`,
  );
}

/** The source that holds `mailbox` (see sourceIndexOf). */
export function sourceOf(sources: readonly NamedSourceConfig[], mailbox: string): NamedSourceConfig {
  return sources[sourceIndexOf(sources, mailbox)] as NamedSourceConfig;
}

/** Every source of the connector as one MailSource: each mailbox read from the source that holds it. */
export function connectorMailSource(sources: readonly NamedSourceConfig[]): MailSource {
  if (sources.length === 1) return new ImapMailSource(sources[0] as NamedSourceConfig);
  return new RoutedMailSource(
    sources.map((source) => ({ name: source.name, port: new ImapMailSource(source) })),
    (mailbox) => sourceIndexOf(sources, mailbox),
  );
}

/** Every source of the connector as one MailTarget: each mailbox written through the source that holds it. */
export function connectorMailTarget(
  sources: readonly NamedSourceConfig[],
  keys: TenantKeys,
  options: ImapMailTargetOptions = {},
): MailTarget {
  if (sources.length === 1) return new ImapMailTarget(sources[0] as NamedSourceConfig, keys, options);
  return new RoutedMailTarget(
    sources.map((source) => ({ name: source.name, port: new ImapMailTarget(source, keys, options) })),
    (mailbox) => sourceIndexOf(sources, mailbox),
  );
}
