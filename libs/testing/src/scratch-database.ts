import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { REPO_ROOT } from './paths.js';

const MIGRATIONS_DIR = join(REPO_ROOT, 'prisma', 'migrations');

/** Runs one statement (or script) on a fresh connection and answers its rows. */
export async function pgQuery<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** An empty database of its own on the test PostgreSQL, for migration tests. */
export interface ScratchDatabase {
  url: string;
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  /**
   * Runs the repository's migration scripts that `select` picks, in name order. Plain SQL through
   * `pg`, not the Prisma schema engine: its WebAssembly build breaks when a second test file of the
   * same process uses it. Answers the names run.
   */
  runMigrations(select: (name: string) => boolean): Promise<string[]>;
  drop(): Promise<void>;
}

/** Creates (again, if a previous run left it) the database `name` next to `adminUrl`'s. */
export async function createScratchDatabase(adminUrl: string, name: string): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`scratch database name ${name}: lower case, digits and _ only`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  await pgQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await pgQuery(adminUrl, `CREATE DATABASE ${name}`);
  return {
    url: databaseUrl,
    query: (sql, values) => pgQuery(databaseUrl, sql, values),
    runMigrations: async (select) => {
      const names = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && select(entry.name))
        .map((entry) => entry.name)
        .sort();
      for (const migration of names) {
        await pgQuery(databaseUrl, readFileSync(join(MIGRATIONS_DIR, migration, 'migration.sql'), 'utf8'));
      }
      return names;
    },
    drop: async () => {
      await pgQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
