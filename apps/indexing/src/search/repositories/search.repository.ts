import type { OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import type { Logger } from '@mlr/telemetry';
import { sqlStateOf } from '../../records/repositories/postgres-errors.js';
import type { SearchPosition } from '../search-cursor.js';
import { probeable, probeStatement, searchStatement, type SearchFilter, type SearchRow } from '../search-sql.js';

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

/**
 * Searches on a small pool of their own, whose connections carry the search settings from the start
 * (statement timeout and effective_cache_size): one round trip per search, where a transaction on
 * the shared Prisma pool took four (BEGIN, the settings, the search, COMMIT) and Prisma's query
 * interpreter on top. Ingest batches keep the shared pool and its defaults.
 */
export class PgSearchRepository implements SearchRepository, OnModuleDestroy {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string, maxConnections: number, logger?: Pick<Logger, 'warn'>) {
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: maxConnections,
      options: `-c statement_timeout=${SEARCH_STATEMENT_TIMEOUT_MS} -c effective_cache_size=${SEARCH_EFFECTIVE_CACHE_SIZE}`,
    });
    // An idle connection the server dropped is replaced on the next search; it must not end the process.
    this.pool.on('error', (error) =>
      logger?.warn({ event: 'search-connection-lost', error: error.message }, 'an idle search connection was lost'),
    );
  }

  async page(filter: SearchFilter, after: SearchPosition | null, take: number): Promise<SearchRow[]> {
    try {
      // The newest rows first: a full page from them is the answer (see probeStatement).
      if (probeable(filter)) {
        const probe = probeStatement(filter, after, take);
        const found = (await this.pool.query<SearchRow>(probe.text, probe.values)).rows;
        if (found.length >= take) return found;
      }
      const statement = searchStatement(filter, after, take);
      return (await this.pool.query<SearchRow>(statement.text, statement.values)).rows;
    } catch (error) {
      // 57014 query_canceled: here only the statement timeout cancels.
      if (sqlStateOf(error) === '57014') {
        throw new SearchTimeout(`the search ran longer than ${SEARCH_STATEMENT_TIMEOUT_MS} ms; narrow the criteria`);
      }
      throw error;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}
