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
 * The planner's price of a random page read while searching. With PostgreSQL's default (4, for
 * spinning disks) it rates "walk the date index and filter" and "fetch the few thousand matches
 * through a GIN index, then sort" alike for a criterion that matches ~0.3% of a tenant's records,
 * and picks the walk about half the time: 100+ ms instead of ~8 ms in bench:search. On SSDs and with
 * the index in cache, 1.1 is the usual value; it changed no other plan of the benchmark.
 */
export const SEARCH_RANDOM_PAGE_COST = '1.1';

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
          set_config('random_page_cost', ${SEARCH_RANDOM_PAGE_COST}, true)`,
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
