import { databaseEnvSchema, serviceEnvSchema } from '@mlr/config';
import { z } from 'zod';

const positiveInt = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const indexingConfigSchema = serviceEnvSchema.extend(databaseEnvSchema.shape).extend({
  /** Most records written by one statement; a batch is flushed as soon as it has this many. */
  INDEXING_BATCH_MAX_RECORDS: positiveInt(250, 5_000),
  /** Longest a record waits for batch-mates before its batch is flushed anyway. */
  INDEXING_BATCH_MAX_WAIT_MS: positiveInt(25, 5_000),
  /** Batches written at the same time (each holds one database connection while it runs). */
  INDEXING_BATCH_CONCURRENCY: positiveInt(2, 16),
  /**
   * Record batches (one per commit batch, up to 512 records each) held at once while their records
   * are collected, written and acknowledged. Must stay below the durable consumer's max ack pending.
   * Few suffice to fill database batches; more only keep more records alive long enough to reach the
   * old generation, which V8 collects lazily (indexing's peak RSS passed 260 MiB at 64).
   */
  INDEXING_MAX_IN_FLIGHT: positiveInt(16, 1_000),
  /** Connections of the Prisma pool (ingest batches, restore selections, health checks). */
  INDEXING_DB_MAX_CONNECTIONS: positiveInt(8, 100),
  /** Connections of the searches' own pool (set up with the search settings). */
  INDEXING_SEARCH_DB_CONNECTIONS: positiveInt(4, 100),
  /** How often the reference changes of new and removed records are relayed to storage (which counts them). */
  INDEXING_REFERENCE_RELAY_MS: positiveInt(1_000, 600_000),
});
export type IndexingConfig = z.output<typeof indexingConfigSchema>;
