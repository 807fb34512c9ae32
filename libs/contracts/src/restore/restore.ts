import { z } from 'zod';
import { connectorIdSchema, contentIdSchema, isoDateSchema, jobIdSchema, tenantIdSchema } from '../common/ids.js';
import { searchCriteriaSchema, visibleMailboxesSchema } from '../services/indexing.js';
import { ITEM_FORMS, ITEM_TYPES } from '../index-records/index-record.js';
import { NATS_USER_PUBLIC_KEY_PATTERN } from '../services/connectors.js';
import { tenantMlrStatusSchema } from '../services/licensing.js';
import {
  sightingStatusRequestSchema,
  sightingStatusResponseSchema,
  type SightingStatusRequest,
  type SightingStatusResponse,
} from '../objects/object-chunk.js';

/*
 * Restore and export (issue 4). A restore job names index records (by id, or by a search) and a
 * target. Scheduling resolves the records through indexing once, when the job is created, and keeps
 * the resulting items (what the connector needs to recreate each message) with the job; the job
 * command carries only their number, and the connector pages through them with the `restore.items`
 * tenant call. The connector fetches each sealed object with `objects.fetch`, opens and verifies it,
 * and reports one result per item in its job events.
 */

/** Most items one restore job may have; a larger selection is refused (split it by date or folder). */
export const RESTORE_MAX_ITEMS = 10_000;

const mailboxNameSchema = z.string().min(1, 'must not be empty').max(320);
/** An IMAP folder path as the connector reports it (`INBOX`, `Projects/2026`, `Restored Items/2026-11-24`). */
const folderNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024)
  .refine(
    (value) => ![...value].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f),
    'must not contain control characters',
  );

/**
 * A file name in the connector's export directory (`restore.exportDir` of its configuration): the
 * cloud never names a path on the customer's machine, only a file inside that directory.
 */
export const exportFileNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/,
    'must be a plain file name (letters, digits, dot, dash, underscore; no directories)',
  )
  .refine((value) => !value.includes('..'), 'must not contain ".."');

export const EXPORT_FORMATS = ['mbox', 'eml-zip', 'items-zip'] as const;

/** Where restored messages go. */
export const restoreTargetSchema = z.discriminatedUnion('kind', [
  /** Each message back into the mailbox and folder it was backed up from. */
  z.strictObject({ kind: z.literal('original') }),
  /** Each message into its own mailbox, in this folder (created if missing), e.g. `Restored Items/2026-11-24`. */
  z.strictObject({ kind: z.literal('folder'), folder: folderNameSchema }),
  /** Every message into another mailbox (tenant admins only); into `folder`, or else its original folder. */
  z.strictObject({ kind: z.literal('mailbox'), mailbox: mailboxNameSchema, folder: folderNameSchema.optional() }),
  /**
   * No mailbox: the connector writes a file into its export directory: an mbox file (mboxrd) or a zip
   * of .eml files (mail-like items only), or a zip of every kind of item in its own form (`items-zip`:
   * .eml, .ics, .vcf, with a manifest).
   */
  z.strictObject({ kind: z.literal('export'), format: z.enum(EXPORT_FORMATS), fileName: exportFileNameSchema }),
]);

export const messageFlagsSchema = z.strictObject({
  seen: z.boolean(),
  answered: z.boolean(),
  flagged: z.boolean(),
  draft: z.boolean(),
  deleted: z.boolean(),
});

/** What the connector needs to recreate one message (a resolved index record). */
export const restoreItemSchema = z.strictObject({
  /** Position in the job, from 0; results name items by it. */
  seq: z.number().int().nonnegative(),
  recordId: z.string().min(1),
  contentId: contentIdSchema,
  /** Where the message was backed up from. */
  mailbox: mailboxNameSchema,
  folder: z.string().min(1).max(1024),
  messageId: z.string().max(998).nullable(),
  subject: z.string().max(8192).nullable(),
  internalDate: isoDateSchema.nullable(),
  flags: messageFlagsSchema,
  keywords: z.array(z.string().min(1).max(256)),
  /** Size of the original message in bytes. */
  size: z.number().int().nonnegative(),
  /** The item's kind, and what its stored bytes are: a target that cannot hold them refuses the item. */
  itemType: z.enum(ITEM_TYPES).default('mail'),
  form: z.enum(ITEM_FORMS).default('rfc5322'),
});

/**
 * What became of an item: `refused` when the target cannot hold an item of its kind or form (a contact
 * into an IMAP folder, an appointment into an mbox file): it is counted as failed, with the reason.
 */
export const RESTORE_OUTCOMES = ['restored', 'skipped', 'failed', 'refused'] as const;

/** The result of one item, reported by the connector in its job events. */
export const restoreItemResultSchema = z.strictObject({
  seq: z.number().int().nonnegative(),
  /** `skipped`: the same message (Message-ID and content) is already in the target folder. */
  outcome: z.enum(RESTORE_OUTCOMES),
  /** Why it failed or was skipped. */
  reason: z.string().max(2048).optional(),
  /** Where it went (mailbox targets); the export file for exports. */
  targetMailbox: z.string().max(320).optional(),
  targetFolder: z.string().max(1024).optional(),
});

/** Which records to restore: by id (e.g. picked from search results), or every match of a search. */
const recordIdsSchema = z.array(z.string().min(1).max(64)).min(1).max(RESTORE_MAX_ITEMS);
export const restoreSelectionSchema = z.union([
  z.strictObject({ recordIds: recordIdsSchema }),
  z.strictObject({ query: searchCriteriaSchema }),
]);

const restoreInputFields = {
  /** The connector that restores; may be left out when the tenant has exactly one. */
  connectorId: connectorIdSchema.optional(),
  /** Either the ids of index records (search hits) ... */
  recordIds: recordIdsSchema.optional(),
  /** ... or a search whose every match is restored. */
  query: searchCriteriaSchema.optional(),
  target: restoreTargetSchema,
  /** Restore even when the same message is already in the target folder. */
  duplicate: z.boolean().default(false),
  /**
   * Who runs the job. `connector`: queued for the connector's agent, which acts with its service
   * account — only for a tenant admin while that connector's service account has "Receive As"
   * (`requester.serviceAccount`); anyone else is refused. `caller`: not queued; the caller — the
   * connector's command line on the customer's side (`connector restore --own-credentials --login
   * <address>`), acting with the mailbox owner's own credentials, which never reach the cloud — runs
   * it and reports its events. Exports (mbox, eml-zip) open no mailbox and may run on the agent for
   * anyone who may see the records.
   */
  runBy: z.enum(['connector', 'caller']).default('connector'),
};

function exactlyOneSelection(input: { recordIds?: unknown; query?: unknown }, ctx: z.RefinementCtx): void {
  if ((input.recordIds === undefined) === (input.query === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['recordIds'], message: 'give either recordIds or query (exactly one)' });
  }
}

/** Body of `POST /v1/tenants/:tenantId/restores`. */
export const restoreInputSchema = z.strictObject(restoreInputFields).superRefine(exactlyOneSelection);

/**
 * The role the gateway authenticated (issue 5) and what follows from it; services decide with it,
 * they never guess it. For each request: a tenant admin whose connector's service account has
 * "Receive As" sees every mailbox and the connector may act for them with the service account;
 * anyone else sees their own (and delegated) mailboxes, and the connector acts for them only with
 * the mailbox owner's own credentials, given for that request on the customer's side.
 */
export const requesterSchema = z
  .strictObject({
    actor: z.string().min(1).max(320),
    role: z.enum(['operator', 'tenant_admin', 'user']),
    /** The mailboxes the requester may read and restore: `all`, or their own and delegated ones. */
    visibleMailboxes: visibleMailboxesSchema,
    /**
     * May the connector's service account ("Receive As") act for this requester? True only for a
     * tenant admin while the connector concerned (the one the request names, else every connector
     * of the tenant) has "Receive As". Absent counts as false: doubt never widens access.
     */
    serviceAccount: z.boolean().default(false),
  })
  .superRefine((requester, ctx) => {
    if (!requester.serviceAccount) return;
    if (requester.role !== 'tenant_admin') {
      ctx.addIssue({
        code: 'custom',
        path: ['serviceAccount'],
        message: `the service account acts only for tenant admins, not for the role ${requester.role}`,
      });
    } else if (requester.visibleMailboxes !== 'all') {
      ctx.addIssue({
        code: 'custom',
        path: ['serviceAccount'],
        message: 'a requester the service account acts for sees every mailbox (visibleMailboxes "all")',
      });
    }
  });

export type RestoreTarget = z.infer<typeof restoreTargetSchema>;
export type RestoreItem = z.infer<typeof restoreItemSchema>;
export type RestoreItemResult = z.infer<typeof restoreItemResultSchema>;
export type RestoreOutcome = (typeof RESTORE_OUTCOMES)[number];
export type RestoreSelection = z.infer<typeof restoreSelectionSchema>;
export type RestoreInput = z.input<typeof restoreInputSchema>;
export type Requester = z.infer<typeof requesterSchema>;

// ---------------------------------------------------------------------------------------------------
// Service verbs
// ---------------------------------------------------------------------------------------------------

/**
 * indexing `records.resolve`: the items of a restore, in message-date order (newest first), in pages
 * (a NATS reply holds at most 1 MiB, far less than 10,000 items): the first request (no `cursor`)
 * checks the whole selection (every id exists and is visible; a search has at most `maxItems`
 * matches) and answers the first page; `nextCursor` continues the same selection.
 */
export const resolveRecordsRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  visibleMailboxes: visibleMailboxesSchema,
  selection: restoreSelectionSchema,
  /** Refuse (invalid_request) when the selection has more records than this. */
  maxItems: z.number().int().min(1).max(RESTORE_MAX_ITEMS).default(RESTORE_MAX_ITEMS),
  /** `nextCursor` of the previous page of the same selection. */
  cursor: z.string().min(1, 'must not be empty').max(2_000).optional(),
});
/** `seq` is assigned by scheduling; indexing answers the items without it. */
export const resolvedRecordSchema = restoreItemSchema.omit({ seq: true });
export const resolveRecordsResponseSchema = z.strictObject({
  items: z.array(resolvedRecordSchema),
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: z.string().nullable(),
});

/** scheduling `restores.create`. */
export const createRestoreRequestSchema = z
  .strictObject({ ...restoreInputFields, tenantId: tenantIdSchema, requester: requesterSchema })
  .superRefine(exactlyOneSelection);
export const restoreAcceptedSchema = z.strictObject({
  jobId: jobIdSchema,
  state: z.literal('queued'),
  kind: z.enum(['restore', 'export']),
  itemCount: z.number().int().positive(),
  connectorId: connectorIdSchema,
  runBy: z.enum(['connector', 'caller']),
  /** When the job was created (the job command's `requestedAt`). */
  requestedAt: isoDateSchema,
});

/** One item of a restore job as the API shows it: what it was, and what became of it. */
export const restoreItemViewSchema = z.strictObject({
  seq: z.number().int().nonnegative(),
  recordId: z.string(),
  mailbox: z.string(),
  folder: z.string(),
  messageId: z.string().nullable(),
  subject: z.string().nullable(),
  size: z.number().int().nonnegative(),
  itemType: z.enum(ITEM_TYPES),
  form: z.enum(ITEM_FORMS),
  /** `pending` until the connector reports it. */
  outcome: z.enum(['pending', ...RESTORE_OUTCOMES]),
  reason: z.string().nullable(),
  targetMailbox: z.string().nullable(),
  targetFolder: z.string().nullable(),
  finishedAt: isoDateSchema.nullable(),
});

/** scheduling `jobs.items`: the items of a restore job with their results, by `seq`. */
export const listJobItemsRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  outcome: z.enum(['pending', ...RESTORE_OUTCOMES]).optional(),
  /** Items with `seq` greater than this (the previous page's `nextAfter`). */
  after: z.number().int().min(-1).default(-1),
  limit: z.number().int().min(1).max(1_000).default(100),
  /**
   * Who asks, when it is a person (the gateway always sends it): items show subjects, so operators
   * see none, and a requester who does not see every mailbox sees only the items of theirs.
   */
  requester: requesterSchema.optional(),
});
export const jobItemListSchema = z.strictObject({
  items: z.array(restoreItemViewSchema),
  /** Pass as `after` for the next page; null when this page is the last. */
  nextAfter: z.number().int().nullable(),
});

export interface RestoreCalls {
  'records.resolve': {
    request: z.input<typeof resolveRecordsRequestSchema>;
    response: z.infer<typeof resolveRecordsResponseSchema>;
  };
  'restores.create': {
    request: z.input<typeof createRestoreRequestSchema>;
    response: z.infer<typeof restoreAcceptedSchema>;
  };
  'jobs.items': { request: z.input<typeof listJobItemsRequestSchema>; response: z.infer<typeof jobItemListSchema> };
}

export const restoreCallSchemas = {
  'records.resolve': { request: resolveRecordsRequestSchema, response: resolveRecordsResponseSchema },
  'restores.create': { request: createRestoreRequestSchema, response: restoreAcceptedSchema },
  'jobs.items': { request: listJobItemsRequestSchema, response: jobItemListSchema },
} as const;

// ---------------------------------------------------------------------------------------------------
// Tenant calls: request/reply on the tenant's own subjects, reachable by its connectors
// ---------------------------------------------------------------------------------------------------

/** Largest slice of a sealed object one `objects.fetch` returns (base64 in the reply stays under 1 MB). */
export const FETCH_MAX_BYTES = 512 * 1024;

/** `mlr.<tenant>.restore.<job>` (served by scheduling): a page of a restore job's items. */
export const restoreItemsRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  jobId: jobIdSchema,
  /** Items with `seq` greater than this; -1 for the first page. */
  after: z.number().int().min(-1),
  limit: z.number().int().min(1).max(500),
});
export const restoreItemsResponseSchema = z.strictObject({
  items: z.array(restoreItemSchema),
  /** How many items the job has in all. */
  total: z.number().int().nonnegative(),
});

/** Most content ids one batch `objects.fetch` names. */
export const FETCH_BATCH_MAX_OBJECTS = 64;

/** `mlr.<tenant>.fetch` (served by storage): a byte range of the sealed object of a content id. */
export const objectRangeFetchRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  contentId: contentIdSchema,
  offset: z.number().int().nonnegative(),
  length: z.number().int().min(1).max(FETCH_MAX_BYTES),
});
/**
 * The same subject, for several whole sealed objects in one request (a restore asks for the next
 * ones of its job together; storage reads neighbours in one pack with one ranged GET). Storage
 * includes whole objects, in the order asked, while their bytes stay within FETCH_MAX_BYTES in all.
 */
export const objectBatchFetchRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  contentIds: z
    .array(contentIdSchema)
    .min(1)
    .max(FETCH_BATCH_MAX_OBJECTS)
    .refine((ids) => new Set(ids).size === ids.length, 'content ids must not repeat'),
});
export const objectFetchRequestSchema = z.union([objectRangeFetchRequestSchema, objectBatchFetchRequestSchema]);

export const objectRangeFetchResponseSchema = z.strictObject({
  contentId: contentIdSchema,
  /** Size of the whole sealed object. */
  sealedSize: z.number().int().nonnegative(),
  /** Tenant key id it was sealed with. */
  keyId: z.string(),
  offset: z.number().int().nonnegative(),
  /** Base64 of the bytes from `offset` (fewer than asked at the end of the object). */
  data: z.string(),
});
/**
 * One answer per content id asked, in the same order: the whole object (`data`), or only its size
 * when it did not fit in this reply (ask again, or by ranges when it is larger than
 * FETCH_MAX_BYTES), or why it cannot be had (`error`: `not_found`, `internal`, ...).
 */
export const objectBatchFetchResponseSchema = z.strictObject({
  objects: z
    .array(
      z.union([
        z.strictObject({
          contentId: contentIdSchema,
          sealedSize: z.number().int().nonnegative(),
          keyId: z.string(),
          /** Base64 of the whole sealed object; absent when it did not fit in this reply. */
          data: z.string().optional(),
        }),
        z.strictObject({
          contentId: contentIdSchema,
          error: z.strictObject({ code: z.string().min(1), message: z.string() }),
        }),
      ]),
    )
    .max(FETCH_BATCH_MAX_OBJECTS),
});
export const objectFetchResponseSchema = z.union([objectRangeFetchResponseSchema, objectBatchFetchResponseSchema]);

/**
 * `mlr.<tenant>.status` (served by licensing): may this tenant's jobs run? Asked by the connector
 * before each job. A connector whose NATS user JWT lacks what this build's connectors are given
 * (it enrolled under an older one: permissions, limits) names itself in `refresh` and gets a JWT with
 * today's claims for the same NATS key — useless to anyone without that key's seed, and refused for
 * a revoked connector or a key that is not the connector's.
 */
export const tenantStatusRequestSchema = z.strictObject({
  tenantId: tenantIdSchema,
  refresh: z
    .strictObject({
      connectorId: connectorIdSchema,
      natsPublicKey: z
        .string()
        .regex(
          NATS_USER_PUBLIC_KEY_PATTERN,
          'natsPublicKey must be a NATS user public key (56 characters starting with U)',
        ),
    })
    .optional(),
});

export const tenantStatusResponseSchema = tenantMlrStatusSchema.extend({
  /** The answer to `refresh`: the new user JWT, or why none was issued. */
  credentials: z
    .union([z.strictObject({ userJwt: z.string().min(1) }), z.strictObject({ refused: z.string().min(1) })])
    .optional(),
});

export interface TenantCalls {
  'restore.items': {
    request: z.infer<typeof restoreItemsRequestSchema>;
    response: z.infer<typeof restoreItemsResponseSchema>;
  };
  'objects.fetch': {
    request: z.infer<typeof objectFetchRequestSchema>;
    response: z.infer<typeof objectFetchResponseSchema>;
  };
  'tenant.status': {
    request: z.infer<typeof tenantStatusRequestSchema>;
    response: z.infer<typeof tenantStatusResponseSchema>;
  };
  /** Backups, not restores: the fate of sightings whose acknowledgement the connector missed. */
  'sightings.status': { request: SightingStatusRequest; response: SightingStatusResponse };
}
export type TenantVerb = keyof TenantCalls;

export const tenantCallSchemas = {
  'restore.items': { request: restoreItemsRequestSchema, response: restoreItemsResponseSchema },
  'objects.fetch': { request: objectFetchRequestSchema, response: objectFetchResponseSchema },
  'tenant.status': { request: tenantStatusRequestSchema, response: tenantStatusResponseSchema },
  'sightings.status': { request: sightingStatusRequestSchema, response: sightingStatusResponseSchema },
} as const;

/** Wildcards the serving services subscribe to (queue groups), for every tenant. */
export const tenantCallWildcards: { [V in TenantVerb]: string } = {
  'restore.items': 'mlr.*.restore.*',
  'objects.fetch': 'mlr.*.fetch',
  'tenant.status': 'mlr.*.status',
  'sightings.status': 'mlr.*.sightings',
};

/**
 * The tenant of a tenant-call subject (`mlr.<tenant>.restore.<job>`, `mlr.<tenant>.fetch`), or null.
 * Servers refuse a request whose `tenantId` is not the subject's tenant, so a connector cannot ask
 * for another tenant's data even by naming it.
 */
export function tenantOfCallSubject(verb: TenantVerb, subject: string): { tenantId: string; jobId?: string } | null {
  const parts = subject.split('.');
  const idPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
  if (parts[0] !== 'mlr' || !parts[1] || !idPattern.test(parts[1])) return null;
  if (verb === 'restore.items' && parts.length === 4 && parts[2] === 'restore' && idPattern.test(parts[3] ?? '')) {
    return { tenantId: parts[1], jobId: parts[3] as string };
  }
  if (verb === 'objects.fetch' && parts.length === 3 && parts[2] === 'fetch') return { tenantId: parts[1] };
  if (verb === 'tenant.status' && parts.length === 3 && parts[2] === 'status') return { tenantId: parts[1] };
  if (verb === 'sightings.status' && parts.length === 3 && parts[2] === 'sightings') return { tenantId: parts[1] };
  return null;
}

export type MessageFlags = z.infer<typeof messageFlagsSchema>;
export type ResolvedRecord = z.infer<typeof resolvedRecordSchema>;
export type ResolveRecordsRequest = z.infer<typeof resolveRecordsRequestSchema>;
export type ResolveRecordsResponse = z.infer<typeof resolveRecordsResponseSchema>;
export type RestoreAccepted = z.infer<typeof restoreAcceptedSchema>;
export type RestoreItemView = z.infer<typeof restoreItemViewSchema>;
export type JobItemList = z.infer<typeof jobItemListSchema>;
export type ObjectRangeFetchRequest = z.infer<typeof objectRangeFetchRequestSchema>;
export type ObjectRangeFetchResponse = z.infer<typeof objectRangeFetchResponseSchema>;
export type ObjectBatchFetchRequest = z.infer<typeof objectBatchFetchRequestSchema>;
export type ObjectBatchFetchResponse = z.infer<typeof objectBatchFetchResponseSchema>;
