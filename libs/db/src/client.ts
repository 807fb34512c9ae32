import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export interface PrismaClientOptions {
  /** Most connections the pool opens (pg's default is 10). */
  maxConnections?: number;
  /** Log SQL statements and their timing (Prisma `query` events to the console). */
  logQueries?: boolean;
}

/**
 * A Prisma client over the pg driver adapter (Prisma 7 has no built-in driver). Call `$disconnect()`
 * when done: it closes the pool.
 */
export function createPrismaClient(databaseUrl: string, options: PrismaClientOptions = {}): PrismaClient {
  if (!databaseUrl) throw new Error('createPrismaClient: a database URL is required');
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    ...(options.maxConnections === undefined ? {} : { max: options.maxConnections }),
  });
  return new PrismaClient({ adapter, ...(options.logQueries ? { log: ['query' as const] } : {}) });
}
