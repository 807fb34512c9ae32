import { Inject, Injectable } from '@nestjs/common';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { sqlStateOf } from '../../records/repositories/postgres-errors.js';
import type { SearchPosition } from '../search-cursor.js';
import { searchStatement, type SearchFilter, type SearchRow } from '../search-sql.js';

/** Reads pages of index records of one tenant (the filter carries the tenant id). */
export interface SearchRepository {
  /** At most `take` rows after `after`, newest message date first. */
  page(filter: SearchFilter, after: SearchPosition | null, take: number): Promise<SearchRow[]>;
}

export const SEARCH_REPOSITORY = Symbol('SEARCH_REPOSITORY');

/** The database gave up on a search that ran longer than it may. */
export class SearchTimeout extends Error {
  override readonly name = 'SearchTimeout';
}

/**
 * Longest a search statement may run. Below the gateway's 5 s call timeout: a search whose answer
 * nobody waits for any more must not keep a connection and a CPU busy.
 */
export const SEARCH_STATEMENT_TIMEOUT_MS = 4_000;

/**
 * What the planner may assume is cached, while searching. Results come newest first, so a search
 * either walks the date index and filters until it has a page, or fetches every match through a GIN
 * or trigram index and sorts them. Records are not stored in date order, so each row the walk looks
 * at is on another heap page; with a large effective_cache_size (default 4 GB) the planner prices
 * those reads as mostly repeated hits and walks even when a criterion matches ~0.3% of the tenant:
 * 80-130 ms instead of 6-10 ms in bench:search. A small value prices the walk's reads as they are;
 * criteria that match many records (where the walk is right) keep the walk.
 */
export const SEARCH_EFFECTIVE_CACHE_SIZE = '64MB';

@Injectable()
export class PrismaSearchRepository implements SearchRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async page(filter: SearchFilter, after: SearchPosition | null, take: number): Promise<SearchRow[]> {
    try {
      // Transaction-local settings, so the pool's connections keep their defaults for ingest batches.
      // A batch transaction, not an interactive one: one round of the client instead of several.
      const [, rows] = await this.prisma.$transaction([
        this.prisma.$queryRaw`SELECT
          set_config('statement_timeout', ${String(SEARCH_STATEMENT_TIMEOUT_MS)}, true),
          set_config('effective_cache_size', ${SEARCH_EFFECTIVE_CACHE_SIZE}, true)`,
        this.prisma.$queryRaw<SearchRow[]>(searchStatement(filter, after, take)),
      ]);
      return rows;
    } catch (error) {
      // 57014 query_canceled: here only the statement timeout cancels.
      if (sqlStateOf(error) === '57014') {
        throw new SearchTimeout(`the search ran longer than ${SEARCH_STATEMENT_TIMEOUT_MS} ms; narrow the criteria`);
      }
      throw error;
    }
  }
}
