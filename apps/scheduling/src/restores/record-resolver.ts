import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  RESTORE_MAX_ITEMS,
  resolveRecordsResponseSchema,
  serviceErrorReplySchema,
  serviceSubject,
  type ResolvedRecord,
  type RestoreSelection,
  type ServiceErrorReply,
  type VisibleMailboxes,
} from '@mlr/contracts';
import type { MessagingConnection } from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';
import { RestoreErrorCode, RestoreException } from './restore.exception.js';

/** Resolves a restore's selection into its items (indexing `records.resolve`), all pages of it. */
export interface RecordResolver {
  /**
   * Every item of the selection, newest message first. Throws a RestoreException when indexing
   * refuses the selection (unknown or invisible records, too many matches, a bad query).
   */
  resolve(input: {
    tenantId: string;
    visibleMailboxes: VisibleMailboxes;
    selection: RestoreSelection;
  }): Promise<ResolvedRecord[]>;
}

export const RECORD_RESOLVER = Symbol('RECORD_RESOLVER');

/** Longest one page of `records.resolve` may take (a search may run 4 s in indexing). */
const PAGE_TIMEOUT_MS = 10_000;

/** The restore error of a refusal of indexing; its fields are named as in the restore request. */
export function restoreRefusal(reply: ServiceErrorReply): RestoreException {
  // indexing names `selection.recordIds`, `selection.query.fromDate`; the restore request has them at the top.
  const unprefix = (path: string) => path.replace(/^selection\./, '');
  const message = reply.message.replace(/\bselection\./g, '');
  const field = reply.field === undefined ? undefined : unprefix(reply.field);
  const problems = reply.problems?.map((p) => ({ path: unprefix(p.path), message: p.message }));
  const code =
    reply.code === 'not_found'
      ? RestoreErrorCode.RECORDS_NOT_FOUND
      : reply.code === 'forbidden'
        ? RestoreErrorCode.FORBIDDEN
        : RestoreErrorCode.INVALID_REQUEST;
  return new RestoreException(code, message, field, problems);
}

/**
 * Asks indexing over NATS, in Nest's NATS packet format (`{pattern, data, id}` → `{response | err}`)
 * on the plain connection, as the licensing gate does: NATS says at once when nobody serves the
 * subject, where a Nest ClientProxy would wait for its whole timeout.
 */
@Injectable()
export class NatsRecordResolver implements RecordResolver {
  constructor(@Inject(MESSAGING) private readonly messaging: MessagingConnection) {}

  async resolve(input: {
    tenantId: string;
    visibleMailboxes: VisibleMailboxes;
    selection: RestoreSelection;
  }): Promise<ResolvedRecord[]> {
    const items: ResolvedRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.page({ ...input, maxItems: RESTORE_MAX_ITEMS, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      // Records indexed while the pages are read may push a search past the limit the first page checked.
      if (items.length > RESTORE_MAX_ITEMS) {
        throw new RestoreException(
          RestoreErrorCode.TOO_MANY_ITEMS,
          `${'recordIds' in input.selection ? 'recordIds' : 'query'}: the selection has more than ${RESTORE_MAX_ITEMS} messages, more than one restore may have; narrow it or split it`,
          'recordIds' in input.selection ? 'recordIds' : 'query',
        );
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    return items;
  }

  private async page(data: Record<string, unknown>) {
    const subject = serviceSubject('indexing', 'records.resolve');
    const packet = JSON.stringify({ pattern: subject, data, id: randomUUID() });
    const reply = await this.messaging.nc.request(subject, packet, { timeout: PAGE_TIMEOUT_MS });
    const body = reply.json<{ response?: unknown; err?: unknown }>();
    if (body.err !== undefined && body.err !== null) {
      const refusal = serviceErrorReplySchema.safeParse(body.err);
      if (refusal.success) throw restoreRefusal(refusal.data);
      throw new Error(`indexing failed records.resolve: ${JSON.stringify(body.err)}`);
    }
    return resolveRecordsResponseSchema.parse(body.response);
  }
}
