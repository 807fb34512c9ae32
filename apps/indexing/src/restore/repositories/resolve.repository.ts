import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { sqlStateOf } from '../../records/repositories/postgres-errors.js';
import type { SearchPosition } from '../../search/search-cursor.js';
import type { SearchFilter } from '../../search/search-sql.js';
import {
  SEARCH_EFFECTIVE_CACHE_SIZE,
  SEARCH_STATEMENT_TIMEOUT_MS,
  SearchTimeout,
} from '../../search/repositories/search.repository.js';
import {
  boundedCountStatement,
  existingRecordsStatement,
  recordsByIdStatement,
  type ResolveRow,
} from '../resolve-sql.js';

/** Reads the index records a restore names, always within one tenant. */
export interface ResolveRepository {
  /** The records among `ids` that the tenant has, with their mailbox. */
  existing(tenantId: string, ids: readonly string[]): Promise<Array<{ id: string; mailbox: string }>>;
  /** At most `take` of the records `ids` (in `mailboxes` when given) after `after`, newest first. */
  byIds(
    tenantId: string,
    ids: readonly string[],
    mailboxes: readonly string[] | undefined,
    after: SearchPosition | null,
    take: number,
  ): Promise<ResolveRow[]>;
  /** The number of matches of a search, counted up to `limit` at most. */
  countUpTo(filter: SearchFilter, limit: number): Promise<number>;
}

export const RESOLVE_REPOSITORY = Symbol('RESOLVE_REPOSITORY');

@Injectable()
export class PrismaResolveRepository implements ResolveRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  existing(tenantId: string, ids: readonly string[]): Promise<Array<{ id: string; mailbox: string }>> {
    return this.prisma.$queryRaw<Array<{ id: string; mailbox: string }>>(existingRecordsStatement(tenantId, ids));
  }

  byIds(
    tenantId: string,
    ids: readonly string[],
    mailboxes: readonly string[] | undefined,
    after: SearchPosition | null,
    take: number,
  ): Promise<ResolveRow[]> {
    return this.prisma.$queryRaw<ResolveRow[]>(recordsByIdStatement(tenantId, ids, mailboxes, after, take));
  }

  async countUpTo(filter: SearchFilter, limit: number): Promise<number> {
    try {
      // The same transaction-local settings as a search page (see search.repository.ts).
      const [, rows] = await this.prisma.$transaction([
        this.prisma.$queryRaw`SELECT
          set_config('statement_timeout', ${String(SEARCH_STATEMENT_TIMEOUT_MS)}, true),
          set_config('effective_cache_size', ${SEARCH_EFFECTIVE_CACHE_SIZE}, true)`,
        this.prisma.$queryRaw<Array<{ count: number }>>(boundedCountStatement(filter, limit)),
      ]);
      return rows[0]?.count ?? 0;
    } catch (error) {
      if (sqlStateOf(error) === '57014') {
        throw new SearchTimeout(
          `counting the matches ran longer than ${SEARCH_STATEMENT_TIMEOUT_MS} ms; narrow the query`,
        );
      }
      throw error;
    }
  }
}
