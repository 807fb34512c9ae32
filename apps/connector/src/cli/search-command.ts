import { parseContract, searchCriteriaSchema, type SearchHit, type SearchResult } from '@mlr/contracts';
import type { GatewayClient } from './gateway-client.js';

/** The search options of the command line (`search` and `restore` share them). */
export interface SearchFlags {
  'from-date'?: string;
  'to-date'?: string;
  from?: string;
  to?: string;
  subject?: string;
  attachment?: string;
  mailbox?: string[];
  folder?: string;
  text?: string;
  'item-type'?: string;
  'has-attachment'?: boolean;
  flagged?: boolean;
  unread?: boolean;
  'min-size'?: string;
  'max-size'?: string;
  'backup-job'?: string;
  form?: string;
  'starts-from'?: string;
  'starts-to'?: string;
  'due-from'?: string;
  'due-to'?: string;
  'task-status'?: string;
  attendee?: string;
  recurring?: boolean;
  location?: string;
  name?: string;
  email?: string;
  phone?: string;
  caller?: string;
  callback?: boolean;
  urgent?: boolean;
}

export const SEARCH_OPTIONS = {
  'from-date': { type: 'string' },
  'to-date': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  subject: { type: 'string' },
  attachment: { type: 'string' },
  folder: { type: 'string' },
  text: { type: 'string' },
  'item-type': { type: 'string' },
  'has-attachment': { type: 'boolean' },
  flagged: { type: 'boolean' },
  unread: { type: 'boolean' },
  'min-size': { type: 'string' },
  'max-size': { type: 'string' },
  'backup-job': { type: 'string' },
  form: { type: 'string' },
  'starts-from': { type: 'string' },
  'starts-to': { type: 'string' },
  'due-from': { type: 'string' },
  'due-to': { type: 'string' },
  'task-status': { type: 'string' },
  attendee: { type: 'string' },
  recurring: { type: 'boolean' },
  location: { type: 'string' },
  name: { type: 'string' },
  email: { type: 'string' },
  phone: { type: 'string' },
  caller: { type: 'string' },
  callback: { type: 'boolean' },
  urgent: { type: 'boolean' },
} as const;

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} must be a whole number of bytes, not "${value}"`);
  return Number(value);
}

/** A date flag: a full ISO date-time, or a day (`2026-11-24`, read as UTC midnight; `--to-date` as the day's end). */
function dateFlag(flag: string, value: string | undefined, endOfDay: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z`;
  return value;
}

/** The search criteria of the flags, checked against the contract (errors name the flag's field). */
export function criteriaFromFlags(flags: SearchFlags): Record<string, unknown> {
  const criteria = {
    fromDate: dateFlag('from-date', flags['from-date'], false),
    toDate: dateFlag('to-date', flags['to-date'], true),
    from: flags.from,
    to: flags.to,
    subject: flags.subject,
    attachmentName: flags.attachment,
    mailboxes: flags.mailbox && flags.mailbox.length > 0 ? flags.mailbox : undefined,
    folder: flags.folder,
    text: flags.text,
    itemType: flags['item-type'],
    hasAttachment: flags['has-attachment'] ? true : undefined,
    flagged: flags.flagged ? true : undefined,
    seen: flags.unread ? false : undefined,
    minSize: integer('min-size', flags['min-size']),
    maxSize: integer('max-size', flags['max-size']),
    backupJobId: flags['backup-job'],
    form: flags.form,
    startsFrom: dateFlag('starts-from', flags['starts-from'], false),
    startsTo: dateFlag('starts-to', flags['starts-to'], true),
    dueFrom: dateFlag('due-from', flags['due-from'], false),
    dueTo: dateFlag('due-to', flags['due-to'], true),
    taskStatus: flags['task-status'],
    attendee: flags.attendee,
    recurring: flags.recurring ? true : undefined,
    location: flags.location,
    name: flags.name,
    email: flags.email,
    phone: flags.phone,
    caller: flags.caller,
    callback: flags.callback ? true : undefined,
    urgent: flags.urgent ? true : undefined,
  };
  const defined = Object.fromEntries(Object.entries(criteria).filter(([, value]) => value !== undefined));
  parseContract('search options', searchCriteriaSchema, defined);
  return defined;
}

export interface SearchCliOptions {
  tenantId: string;
  flags: SearchFlags;
  /** Most results to print (pages are followed up to this). */
  limit: number;
  json: boolean;
}

const minute = (iso: string | null) => (iso ?? '').slice(0, 16).replace('T', ' ');

/** What a person recognises an item of a kind by, in one line (empty for mail). */
export function kindSummary(hit: Pick<SearchHit, 'itemType' | 'kindFields'>): string {
  const fields = hit.kindFields;
  if (fields === null) return hit.itemType === 'mail' ? '' : hit.itemType.replace('_', ' ');
  switch (fields.kind) {
    case 'appointment': {
      const when = fields.allDay
        ? `${fields.start.slice(0, 10)} all day`
        : `${minute(fields.start)}${fields.end ? ` to ${minute(fields.end)}` : ''} UTC`;
      const parts = [`appointment ${when}`];
      if (fields.location) parts.push(`at ${fields.location}`);
      if (fields.attendees.length > 0)
        parts.push(`${fields.attendees.length} attendee${fields.attendees.length === 1 ? '' : 's'}`);
      if (fields.recurrence) parts.push(`repeats ${fields.recurrence}`);
      if (fields.status) parts.push(fields.status);
      return parts.join(', ');
    }
    case 'task': {
      const parts = [`task ${fields.status}${fields.percentComplete !== null ? ` ${fields.percentComplete}%` : ''}`];
      if (fields.due) parts.push(`due ${minute(fields.due)} UTC`);
      if (fields.completedAt) parts.push(`completed ${minute(fields.completedAt)} UTC`);
      if (fields.recurrence) parts.push(`repeats ${fields.recurrence}`);
      return parts.join(', ');
    }
    case 'note':
      return `note${fields.modifiedAt ? `, changed ${minute(fields.modifiedAt)} UTC` : ''}`;
    case 'contact': {
      const parts = [fields.isGroup ? `list of ${fields.members.length}` : 'contact'];
      if (fields.organization) parts.push(fields.organization);
      parts.push(...fields.emails.slice(0, 2).map((e) => e.value), ...fields.phones.slice(0, 2).map((p) => p.value));
      return parts.join(', ');
    }
    case 'phone_message': {
      const marks = (['callback', 'willCallAgain', 'returnedCall', 'urgent'] as const).filter((mark) => fields[mark]);
      const caller = [fields.caller, fields.company ? `(${fields.company})` : null].filter(Boolean).join(' ');
      return ['phone message', caller, fields.number, marks.length > 0 ? `[${marks.join(', ')}]` : null]
        .filter(Boolean)
        .join(', ');
    }
  }
}

function line(hit: SearchHit): string {
  const date = (hit.date ?? '').slice(0, 16).replace('T', ' ').padEnd(16);
  const from = (hit.from?.address ?? '-').slice(0, 30).padEnd(30);
  const subject = (hit.subject ?? '(no subject)').slice(0, 60);
  const kind = kindSummary(hit);
  return (
    `${date}  ${from}  ${subject}\n${' '.repeat(18)}${hit.mailbox}/${hit.folder}  id ${hit.id}` +
    (kind ? `\n${' '.repeat(18)}${kind}` : '')
  );
}

/** `connector search`: prints the matching messages (newest first) or, with --json, one JSON document. */
export async function runSearchCommand(gateway: GatewayClient, options: SearchCliOptions): Promise<number> {
  const criteria = criteriaFromFlags(options.flags);
  const hits: SearchHit[] = [];
  let cursor: string | null = null;
  let more = false;
  do {
    const page: SearchResult = await gateway.post<SearchResult>(`/v1/tenants/${options.tenantId}/search`, {
      ...criteria,
      limit: Math.min(500, options.limit - hits.length),
      ...(cursor ? { cursor } : {}),
    });
    hits.push(...page.items);
    cursor = page.nextCursor;
    more = cursor !== null;
  } while (more && hits.length < options.limit);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ items: hits, truncated: more })}\n`);
    return 0;
  }
  for (const hit of hits) process.stdout.write(`${line(hit)}\n`);
  process.stdout.write(
    `${hits.length} ${hits.every((h) => h.itemType === 'mail') ? 'message' : 'item'}${hits.length === 1 ? '' : 's'}${more ? ` (more match: raise --limit or narrow the search)` : ''}\n`,
  );
  return 0;
}
