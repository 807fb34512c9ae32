import { z } from 'zod';
import { contentIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import {
  boundedDateSchema,
  IMPORTANCE,
  ITEM_FORMS,
  ITEM_TYPES,
  kindFieldsSchema,
  TASK_STATUSES,
  type ItemType,
} from '../index-records/index-record.js';

/*
 * Request/reply verbs of the indexing service (`mlr.svc.indexing.<verb>`): searching the index.
 * The gateway validates HTTP bodies and query strings with `searchQuerySchema`; the service validates
 * the whole request again. Field names are those of the HTTP API, so an error that names a field
 * means the same thing at both ends.
 *
 * Semantics of the criteria (all optional; every given criterion must hold):
 * - Dates: the message date is the Date header (submission date), else the IMAP INTERNALDATE. Both
 *   bounds are inclusive. A record with neither date matches no date criterion and sorts last.
 * - `from`: `alice@example.com` is the sender's exact address; `example.com` or `@example.com` is
 *   the sender's domain (exactly that domain, not its subdomains). Case does not matter.
 *   Partial names and addresses are found with `text`.
 * - `to`: the same, over every recipient (to, cc and bcc).
 * - `subject`, `attachmentName`: contain the text, ignoring case (any attachment name for the latter).
 * - `mailboxes`, `folder`: exact names as the connector reported them (as shown in the results).
 * - `text`: full-text search over subject, addresses, sender name and attachment names in web-search
 *   syntax (`budget -draft`, `"quarterly figures"`, `invoice or receipt`), whole words, no stemming.
 * - `itemType` is the kind of item, `form` what its stored bytes are. The fields of a kind
 *   (`KIND_CRITERIA`: an appointment's start, location and attendees; a task's due date and status; a
 *   contact's names, addresses and phone numbers; a phone message's caller, number and marks) select
 *   items of that kind only; criteria of kinds that exclude each other, or one that contradicts
 *   `itemType`, are refused. `phone` compares the last digits (at least 6) of the numbers.
 * Results are the sightings (one message in one folder of one mailbox), newest message date first,
 * then by id; `nextCursor` continues the same search after the last item.
 */

/** Shortest and longest page of results. */
export const SEARCH_LIMIT = { min: 1, max: 500, default: 50 } as const;

/** A domain: dot-separated labels of letters, digits and inner hyphens (internationalised names too). */
const DOMAIN_PATTERN =
  /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;
const LOCAL_PART_PATTERN = /^[^\s@"<>(),;:\\[\]]+$/u;

/** What an address criterion (`from`, `to`) asks for. */
export type AddressCriterion = { kind: 'address'; address: string } | { kind: 'domain'; domain: string };

/**
 * Reads an address criterion: a whole address or a domain (`example.com`, `@example.com`), in lower
 * case as the index stores addresses. Null when it is neither.
 */
export function parseAddressCriterion(value: string): AddressCriterion | null {
  const text = value.trim().toLowerCase();
  const at = text.lastIndexOf('@');
  if (at === -1 || at === 0) {
    const domain = text.slice(at + 1);
    // A bare word is more likely a name than a domain: without '@' a domain needs a dot.
    if (at === -1 && !domain.includes('.')) return null;
    return DOMAIN_PATTERN.test(domain) ? { kind: 'domain', domain } : null;
  }
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!LOCAL_PART_PATTERN.test(local) || !DOMAIN_PATTERN.test(domain)) return null;
  return { kind: 'address', address: text };
}

const addressCriterionSchema = z
  .string()
  .max(320)
  .refine(
    (value) => parseAddressCriterion(value) !== null,
    'must be an e-mail address (alice@example.com) or a domain (example.com or @example.com); find partial names with text',
  );

const containsSchema = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

const mailboxNameSchema = z.string().min(1, 'must not be empty').max(320);

const searchCriteriaFields = {
  fromDate: isoDateSchema.optional(),
  toDate: isoDateSchema.optional(),
  from: addressCriterionSchema.optional(),
  to: addressCriterionSchema.optional(),
  subject: containsSchema(998).optional(),
  attachmentName: containsSchema(1024).optional(),
  mailboxes: z.array(mailboxNameSchema).min(1, 'give at least one mailbox, or leave it out').max(1_000).optional(),
  folder: z.string().min(1, 'must not be empty').max(1024).optional(),
  itemType: z.enum(ITEM_TYPES).optional(),
  seen: z.boolean().optional(),
  answered: z.boolean().optional(),
  /** The IMAP \Flagged mark. */
  flagged: z.boolean().optional(),
  /** A follow-up request (Outlook's flag, or \Flagged). */
  followUp: z.boolean().optional(),
  importance: z.enum(IMPORTANCE).optional(),
  /** Size of the original message in bytes, inclusive bounds. */
  minSize: z.number().int().nonnegative().optional(),
  maxSize: z.number().int().nonnegative().optional(),
  hasAttachment: z.boolean().optional(),
  backupJobId: jobIdSchema.optional(),
  text: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(1_000)
    .refine((value) => /[\p{L}\p{N}]/u.test(value), 'must contain at least one word')
    .optional(),
  form: z.enum(ITEM_FORMS).optional(),
  /** Appointments' and tasks' start, inclusive bounds. */
  startsFrom: boundedDateSchema.optional(),
  startsTo: boundedDateSchema.optional(),
  /** Tasks' due time, inclusive bounds. */
  dueFrom: boundedDateSchema.optional(),
  dueTo: boundedDateSchema.optional(),
  taskStatus: z.enum(TASK_STATUSES).optional(),
  /** Appointments: the organizer or an attendee, an address or a domain (as `to`). */
  attendee: addressCriterionSchema.optional(),
  /** Appointments and tasks that repeat (or not). */
  recurring: z.boolean().optional(),
  /** Appointments: the location contains the text, ignoring case. */
  location: containsSchema(998).optional(),
  /** Contacts: a name, the organization or the job title contains the text, ignoring case. */
  name: containsSchema(998).optional(),
  /** Contacts: one of the e-mail addresses (or a distribution list's members), an address or a domain. */
  email: addressCriterionSchema.optional(),
  /** Contacts' phone numbers and phone messages' number: the same last digits (at least 6 given). */
  phone: z
    .string()
    .max(64)
    .refine(
      (value) => /^[+\d\s()./-]+$/.test(value) && (value.match(/\d/g) ?? []).length >= 6,
      'must be a phone number with at least 6 digits',
    )
    .optional(),
  /** Phone messages: the caller or their company contains the text, ignoring case. */
  caller: containsSchema(998).optional(),
  /** Phone messages marked "please call back" (or not). */
  callback: z.boolean().optional(),
  /** Phone messages marked urgent (or not). */
  urgent: z.boolean().optional(),
};

/** Criteria that apply to some kinds only: the kinds each one selects. */
export const KIND_CRITERIA = {
  startsFrom: ['appointment', 'task'],
  startsTo: ['appointment', 'task'],
  dueFrom: ['task'],
  dueTo: ['task'],
  taskStatus: ['task'],
  attendee: ['appointment'],
  recurring: ['appointment', 'task'],
  location: ['appointment'],
  name: ['contact'],
  email: ['contact'],
  phone: ['contact', 'phone_message'],
  caller: ['phone_message'],
  callback: ['phone_message'],
  urgent: ['phone_message'],
} as const satisfies Partial<Record<keyof typeof searchCriteriaFields, readonly ItemType[]>>;

/**
 * The kinds a search's kind criteria allow (with `itemType`, if given): null when none restricts the
 * kind, an empty list when they contradict each other.
 */
export function kindsSelected(query: Partial<Record<string, unknown>>): ItemType[] | null {
  let kinds: ItemType[] | null = typeof query.itemType === 'string' ? [query.itemType as ItemType] : null;
  for (const [field, allowed] of Object.entries(KIND_CRITERIA)) {
    if (query[field] === undefined) continue;
    const allowedKinds: readonly ItemType[] = allowed;
    kinds = kinds === null ? [...allowedKinds] : kinds.filter((kind) => allowedKinds.includes(kind));
  }
  return kinds;
}

/** The digits a phone criterion compares: the last 9 (national and international forms agree on them). */
export function phoneDigits(value: string): string {
  return (value.match(/\d/g) ?? []).join('').slice(-9);
}

const pagingFields = {
  limit: z.number().int().min(SEARCH_LIMIT.min).max(SEARCH_LIMIT.max).default(SEARCH_LIMIT.default),
  /** `nextCursor` of the previous page of the same search. */
  cursor: z.string().min(1, 'must not be empty').max(2_000).optional(),
};

/** The criteria fields, for callers that need to know them (e.g. to read a query string). */
export const SEARCH_CRITERIA_FIELDS = Object.keys(searchCriteriaFields) as Array<keyof typeof searchCriteriaFields>;

type RangeChecked = {
  fromDate?: string | undefined;
  toDate?: string | undefined;
  startsFrom?: string | undefined;
  startsTo?: string | undefined;
  dueFrom?: string | undefined;
  dueTo?: string | undefined;
  minSize?: number | undefined;
  maxSize?: number | undefined;
};

function checkRanges(query: RangeChecked, ctx: z.RefinementCtx): void {
  for (const [from, to] of [
    ['fromDate', 'toDate'],
    ['startsFrom', 'startsTo'],
    ['dueFrom', 'dueTo'],
  ] as const) {
    const low = query[from];
    const high = query[to];
    if (low && high && Date.parse(low) > Date.parse(high)) {
      ctx.addIssue({ code: 'custom', path: [to], message: `${to} is before ${from}` });
    }
  }
  const kinds = kindsSelected(query as Partial<Record<string, unknown>>);
  if (kinds !== null && kinds.length === 0) {
    const fields = Object.keys(KIND_CRITERIA).filter(
      (field) => (query as Record<string, unknown>)[field] !== undefined,
    );
    const given = (query as { itemType?: string }).itemType;
    ctx.addIssue({
      code: 'custom',
      path: [fields[fields.length - 1] ?? 'itemType'],
      message: `${fields.join(', ')} ${given ? `do not apply to items of kind ${given}` : 'apply to different kinds of items'}`,
    });
  }
  if (query.minSize !== undefined && query.maxSize !== undefined && query.minSize > query.maxSize) {
    ctx.addIssue({ code: 'custom', path: ['maxSize'], message: 'maxSize is smaller than minSize' });
  }
}

/** The criteria alone (no paging): what a restore "by search" selects. */
export const searchCriteriaSchema = z.strictObject(searchCriteriaFields).superRefine(checkRanges);

/** Body of `POST /v1/tenants/:tenantId/search` (and, typed from strings, the query of `GET`). */
export const searchQuerySchema = z.strictObject({ ...searchCriteriaFields, ...pagingFields }).superRefine(checkRanges);

/**
 * The mailboxes the requester may see: `'all'` (a tenant admin) or a list (a user: their own and
 * delegated mailboxes; an empty list sees nothing).
 */
export const visibleMailboxesSchema = z.union([z.literal('all'), z.array(mailboxNameSchema).max(10_000)]);

export const searchRequestSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    visibleMailboxes: visibleMailboxesSchema,
    ...searchCriteriaFields,
    ...pagingFields,
  })
  .superRefine(checkRanges);

/** One sighting found: what a user needs to recognise a message and to restore it. */
export const searchHitSchema = z.strictObject({
  id: z.string(),
  mailbox: z.string(),
  folder: z.string(),
  contentId: contentIdSchema,
  messageId: z.string().nullable(),
  /** The message date the results are ordered by: submissionDate, else internalDate. */
  date: isoDateSchema.nullable(),
  submissionDate: isoDateSchema.nullable(),
  internalDate: isoDateSchema.nullable(),
  from: z.strictObject({ address: z.string(), name: z.string().nullable() }).nullable(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  bcc: z.array(z.string()),
  subject: z.string().nullable(),
  attachmentNames: z.array(z.string()),
  hasAttachment: z.boolean(),
  flags: z.strictObject({
    seen: z.boolean(),
    answered: z.boolean(),
    flagged: z.boolean(),
    draft: z.boolean(),
    deleted: z.boolean(),
  }),
  followUp: z.boolean(),
  keywords: z.array(z.string()),
  importance: z.enum(IMPORTANCE),
  itemType: z.enum(ITEM_TYPES),
  form: z.enum(ITEM_FORMS),
  /** The fields of the item's kind (appointment, task, note, contact, phone message); null for others. */
  kindFields: kindFieldsSchema.nullable(),
  size: z.number().int().nonnegative(),
  backupJobId: z.string().nullable(),
});

export const searchResultSchema = z.strictObject({
  items: z.array(searchHitSchema),
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: z.string().nullable(),
});

export type SearchQuery = z.infer<typeof searchQuerySchema>;
export type SearchQueryInput = z.input<typeof searchQuerySchema>;
export type SearchRequest = z.infer<typeof searchRequestSchema>;
export type VisibleMailboxes = z.infer<typeof visibleMailboxesSchema>;
export type SearchHit = z.infer<typeof searchHitSchema>;
export type SearchResult = z.infer<typeof searchResultSchema>;

/** The indexing verbs, as entries of `ServiceCalls` (requests as the caller may send them). */
export interface IndexingCalls {
  'records.search': { request: z.input<typeof searchRequestSchema>; response: SearchResult };
}

export const indexingCallSchemas = {
  'records.search': { request: searchRequestSchema, response: searchResultSchema },
} as const;
