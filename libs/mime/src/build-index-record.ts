import { indexRecordFieldsSchema, type Importance, type IndexRecord, type SightingKey } from '@mlr/contracts';
import type { ZodType } from 'zod';
import type { MailAddress, MessageFacts } from './message-facts.js';

/** One sighting of a message: where the connector found it and the mail server's attributes for it. */
export interface MessageSighting {
  tenantId: string;
  mailbox: string;
  folder: string;
  /** The source's identity of the item (IMAP: source 'imap', epoch = UIDVALIDITY, id = UID). */
  sourceKey: SightingKey;
  /** Hex HMAC-SHA256 of the raw bytes under the tenant's id key. */
  contentId: string;
  /** IMAP INTERNALDATE (arrival time), null when the source has none. */
  internalDate: Date | null;
  /** IMAP flags as fetched: system flags (\Seen, \Answered, \Flagged, \Draft, \Deleted) and keywords. */
  flags: string[];
  /** Keywords (IMAP keywords, Outlook categories) reported separately by the source. */
  keywords: string[];
  /** When `flags` and `keywords` were read from the source (the connector's clock). */
  observedAt: Date;
  backupJobId: string | null;
}

/** The sighting itself is unusable (a caller bug, not a message problem): which field and why. */
export class InvalidSightingError extends Error {
  constructor(
    readonly field: keyof MessageSighting,
    reason: string,
  ) {
    super(`invalid message sighting: ${field}: ${reason}`);
    this.name = 'InvalidSightingError';
  }
}

const shape = indexRecordFieldsSchema.shape;

/** Limits of the index record contract, kept beside the schema they come from. */
const LIMITS = {
  messageId: 998,
  address: 998,
  name: 998,
  subject: 8192,
  attachmentName: 1024,
  keyword: 256,
  problem: 2048,
  /** Not in the contract: a record with more entries than this is not worth indexing in full. */
  listEntries: 1000,
  problems: 100,
} as const;

const SYSTEM_FLAGS = {
  '\\seen': 'seen',
  '\\answered': 'answered',
  '\\flagged': 'flagged',
  '\\draft': 'draft',
  '\\deleted': 'deleted',
} as const satisfies Record<string, keyof IndexRecord['flags']>;

/** Keywords by which a user marks a message important (Gmail, Apple Mail and others). */
const IMPORTANT_KEYWORDS = new Set(['$important', '\\important']);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text PostgreSQL can store: no NUL, no unpaired surrogate. */
function storable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\u0000/g, '').replace(LONE_SURROGATE, '\ufffd');
}

/** The first `max` UTF-16 units of `value`, without splitting a surrogate pair. */
export function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** Storable text cut to `max` UTF-16 units, the cut noted as a problem. */
function fit(value: string, max: number, what: string, problems: string[]): string {
  const clean = storable(value);
  if (clean.length <= max) return clean;
  problems.push(`${what} truncated to ${max} characters (was ${clean.length})`);
  return cut(clean, max);
}

function fitAddress(a: MailAddress, what: string, problems: string[]): MailAddress {
  const address = fit(a.address, LIMITS.address, `${what} address`, problems);
  const name = a.name === undefined ? undefined : fit(a.name, LIMITS.name, `${what} display name`, problems);
  return name ? { address, name } : { address };
}

function fitAddresses(list: MailAddress[], what: string, problems: string[]): MailAddress[] {
  if (list.length > LIMITS.listEntries) {
    problems.push(`${what}: only the first ${LIMITS.listEntries} of ${list.length} addresses indexed`);
  }
  return list.slice(0, LIMITS.listEntries).map((a) => fitAddress(a, what, problems));
}

function check(field: keyof MessageSighting, schema: ZodType, value: unknown): void {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidSightingError(field, result.error.issues[0]?.message ?? 'invalid');
}

function validateSighting(s: MessageSighting): void {
  check('tenantId', shape.tenantId, s.tenantId);
  check('mailbox', shape.mailbox, s.mailbox);
  check('folder', shape.folder, s.folder);
  check('sourceKey', shape.sourceKey, s.sourceKey);
  check('contentId', shape.contentId, s.contentId);
  check('backupJobId', shape.backupJobId, s.backupJobId);
  if (!Array.isArray(s.flags)) throw new InvalidSightingError('flags', 'must be an array');
  if (!Array.isArray(s.keywords)) throw new InvalidSightingError('keywords', 'must be an array');
  if (!(s.observedAt instanceof Date) || Number.isNaN(s.observedAt.getTime())) {
    throw new InvalidSightingError('observedAt', 'must be a valid Date');
  }
}

interface MappedFlags {
  flags: IndexRecord['flags'];
  keywords: string[];
  important: boolean;
}

/**
 * IMAP system flags become the record's booleans (case-insensitively); every other flag is a keyword.
 * \Recent is session state and other backslash flags are not ours to restore, so both are dropped.
 */
function mapFlags(s: MessageSighting, problems: string[]): MappedFlags {
  const flags = { seen: false, answered: false, flagged: false, draft: false, deleted: false };
  const keywords: string[] = [];
  const seenKeywords = new Set<string>();
  let important = false;
  const addKeyword = (raw: unknown): void => {
    if (typeof raw !== 'string') return;
    const keyword = raw.trim();
    if (!keyword) return;
    const key = keyword.toLowerCase();
    if (IMPORTANT_KEYWORDS.has(key)) important = true;
    if (key.startsWith('\\') || seenKeywords.has(key)) return;
    seenKeywords.add(key);
    keywords.push(fit(keyword, LIMITS.keyword, 'keyword', problems));
  };
  for (const raw of s.flags) {
    if (typeof raw !== 'string') continue;
    const system = SYSTEM_FLAGS[raw.trim().toLowerCase() as keyof typeof SYSTEM_FLAGS];
    if (system) flags[system] = true;
    else addKeyword(raw);
  }
  for (const raw of s.keywords) addKeyword(raw);
  return { flags, keywords: keywords.filter((k) => k.length > 0), important };
}

function isoOrNull(value: string | null, what: string, problems: string[]): string | null {
  if (value === null) return null;
  if (shape.submissionDate.safeParse(value).success) return value;
  problems.push(`${what} ${JSON.stringify(value.slice(0, 40))} is not an ISO 8601 date-time; not indexed`);
  return null;
}

/**
 * Builds the index record of one sighting of a message from its facts. Values too long for the
 * contract are cut to its limits (noted in `parseProblems`), so a record built from any facts passes
 * `indexRecordSchema`. A sighting that breaks the contract (bad tenant id, empty folder...) is a
 * caller bug and throws InvalidSightingError rather than being silently altered.
 */
export function buildIndexRecord(facts: MessageFacts, sighting: MessageSighting): IndexRecord {
  validateSighting(sighting);
  const problems: string[] = [];
  const { flags, keywords, important } = mapFlags(sighting, problems);

  let internalDate: string | null = null;
  if (sighting.internalDate !== null) {
    const time = sighting.internalDate instanceof Date ? sighting.internalDate.getTime() : Number.NaN;
    if (Number.isNaN(time)) problems.push('internal date from the mail server is not a valid date; not indexed');
    else internalDate = isoOrNull(new Date(time).toISOString(), 'internal date', problems);
  }

  // A user's own "important" mark outranks what the sender put in the headers.
  const importance: Importance = important ? 'high' : facts.importance;

  const attachmentNames = facts.attachmentNames
    .slice(0, LIMITS.listEntries)
    .map((n) => fit(n, LIMITS.attachmentName, 'attachment name', problems))
    .filter((n) => n.length > 0);

  const record: IndexRecord = {
    tenantId: sighting.tenantId,
    mailbox: sighting.mailbox,
    folder: sighting.folder,
    sourceKey: { ...sighting.sourceKey },
    contentId: sighting.contentId,
    messageId: facts.messageId === null ? null : fit(facts.messageId, LIMITS.messageId, 'Message-ID', problems),
    submissionDate: isoOrNull(facts.submissionDate, 'submission date', problems),
    internalDate,
    from: facts.from === null ? null : fitAddress(facts.from, 'From', problems),
    to: fitAddresses(facts.to, 'To', problems),
    cc: fitAddresses(facts.cc, 'Cc', problems),
    bcc: fitAddresses(facts.bcc, 'Bcc', problems),
    subject: facts.subject === null ? null : fit(facts.subject, LIMITS.subject, 'Subject', problems),
    attachmentNames,
    hasAttachment: facts.hasAttachment || attachmentNames.length > 0,
    importance,
    // Outlook shows a message carrying X-Message-Flag as flagged for follow-up; so does \Flagged.
    // flags.flagged stays the IMAP flag alone, so a restore sets exactly the flags it found.
    followUp: facts.followUp !== null || flags.flagged,
    itemType: facts.itemType,
    form: facts.form,
    kindFields: facts.kindFields,
    flags,
    keywords,
    observedAt: sighting.observedAt.toISOString(),
    size: Number.isSafeInteger(facts.size) && facts.size >= 0 ? facts.size : 0,
    parseProblems: [],
    backupJobId: sighting.backupJobId,
  };
  const allProblems = [...facts.parseProblems, ...problems];
  if (allProblems.length > LIMITS.problems) {
    const extra = allProblems.length - (LIMITS.problems - 1);
    allProblems.splice(LIMITS.problems - 1, allProblems.length, `${extra} more problems not listed`);
  }
  record.parseProblems = allProblems.map((p) => cut(storable(p), LIMITS.problem));
  return record;
}
