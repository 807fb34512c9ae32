import type { Importance, ItemForm, ItemType, KindFields } from '@mlr/contracts';

/** One mailbox of an address header: the address as written and its decoded display name. */
export interface MailAddress {
  address: string;
  name?: string;
}

/** How the message's lines end: CRLF as RFC 5322 wants, bare LF (Maildir, git), a mix, or no line break at all. */
export type LineEnding = 'crlf' | 'lf' | 'mixed' | 'none';

/**
 * Everything an index record derives from a message's raw bytes. Fields the message does not have
 * (or that could not be read) are null or empty; `parseProblems` says what could not be parsed.
 */
export interface MessageFacts {
  /** The Message-ID as written (angle brackets kept, folding whitespace removed). */
  messageId: string | null;
  /** The Date header as an ISO 8601 UTC date-time; null when missing or unreadable. */
  submissionDate: string | null;
  from: MailAddress | null;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  subject: string | null;
  /** File names of attachments, nested messages included, in document order. */
  attachmentNames: string[];
  /** True when the message has at least one attachment, named or not. */
  hasAttachment: boolean;
  importance: Importance;
  /** Outlook's follow-up request (X-Message-Flag / Flag header text), null when there is none. */
  followUp: string | null;
  itemType: ItemType;
  /** What the bytes are: RFC 5322 for every message this library reads. */
  form: ItemForm;
  /** The fields of the item's kind, when the item was written from them (libs/pim); null for mail. */
  kindFields: KindFields | null;
  /** Byte length of the raw message. */
  size: number;
  lineEnding: LineEnding;
  /** Short human-readable notes on what could not be parsed or is malformed; empty for a clean message. */
  parseProblems: string[];
}
