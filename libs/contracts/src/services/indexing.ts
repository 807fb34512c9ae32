import { z } from 'zod';
import { contentIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { IMPORTANCE, ITEM_TYPES } from '../index-records/index-record.js';

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
};

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
  minSize?: number | undefined;
  maxSize?: number | undefined;
};

function checkRanges(query: RangeChecked, ctx: z.RefinementCtx): void {
  if (query.fromDate && query.toDate && Date.parse(query.fromDate) > Date.parse(query.toDate)) {
    ctx.addIssue({ code: 'custom', path: ['toDate'], message: 'toDate is before fromDate' });
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
