/**
 * Which service owns which table, and what each service's PostgreSQL role may do: the rule of
 * prisma/schema.prisma ("every table belongs to exactly one service") enforced by the database. The
 * migrations run as an owner role that owns every table; each service connects as a role of its own
 * that holds privileges on its own tables only (`serviceGrantStatements`), so a query of another
 * service's table fails with "permission denied" instead of quietly coupling two services.
 */

export const DATABASE_SERVICES = ['licensing', 'scheduling', 'indexing', 'storage'] as const;
export type DatabaseService = (typeof DATABASE_SERVICES)[number];

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

const READ_WRITE: readonly TablePrivilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

export interface TableOwnership {
  owner: DatabaseService;
  /** What the owner may do (default: read and write). Never TRUNCATE, never DDL. */
  privileges: readonly TablePrivilege[];
}

/** Every table of the schema (the migrations' `_prisma_migrations` aside) and its owner. */
export const TABLE_OWNERS: Readonly<Record<string, TableOwnership>> = {
  licences: { owner: 'licensing', privileges: READ_WRITE },
  tenants: { owner: 'licensing', privileges: READ_WRITE },
  connectors: { owner: 'licensing', privileges: READ_WRITE },
  usage_samples: { owner: 'licensing', privileges: READ_WRITE },
  // Append-only: not even licensing may change or remove what the trail says happened.
  audit_events: { owner: 'licensing', privileges: ['SELECT', 'INSERT'] },
  mailboxes: { owner: 'scheduling', privileges: READ_WRITE },
  backup_plans: { owner: 'scheduling', privileges: READ_WRITE },
  jobs: { owner: 'scheduling', privileges: READ_WRITE },
  job_item_errors: { owner: 'scheduling', privileges: READ_WRITE },
  restore_items: { owner: 'scheduling', privileges: READ_WRITE },
  folder_checkpoints: { owner: 'scheduling', privileges: READ_WRITE },
  tenant_mlr_verdicts: { owner: 'scheduling', privileges: READ_WRITE },
  index_records: { owner: 'indexing', privileges: READ_WRITE },
  legal_holds: { owner: 'indexing', privileges: READ_WRITE },
  reference_changes: { owner: 'indexing', privileges: READ_WRITE },
  packs: { owner: 'storage', privileges: READ_WRITE },
  stored_objects: { owner: 'storage', privileges: READ_WRITE },
  unexpected_object_versions: { owner: 'storage', privileges: READ_WRITE },
  applied_reference_changes: { owner: 'storage', privileges: READ_WRITE },
};

/** Sequences of the tables with generated ids: their owner may draw from them. */
const SEQUENCE_SUFFIX = '_id_seq';

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The statements that give `role` exactly `service`'s privileges on the `tables` present (run by
 * the owner role after the migrations): what a service needs of another's data it asks of that
 * service over NATS, never through its tables. Everything is revoked first, so a privilege granted by hand
 * or by an earlier version of this map does not linger. Throws on a table without an owner and on an
 * owned table that is missing (the migrations were not applied).
 */
export function serviceGrantStatements(
  service: DatabaseService,
  role: string,
  tables: readonly string[],
  sequences: readonly string[],
): string[] {
  const present = new Set(tables);
  const unowned = tables.filter((table) => TABLE_OWNERS[table] === undefined);
  if (unowned.length > 0) {
    throw new Error(`tables without an owner in TABLE_OWNERS (libs/db/src/table-owners.ts): ${unowned.join(', ')}`);
  }
  const missing = Object.keys(TABLE_OWNERS).filter((table) => !present.has(table));
  if (missing.length > 0)
    throw new Error(`tables missing from the database (migrations not applied?): ${missing.join(', ')}`);

  const r = quoteIdent(role);
  const statements = [
    // PostgreSQL before 15 let everyone create tables in public; a service never may.
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${r}`,
    `GRANT USAGE ON SCHEMA public TO ${r}`,
  ];
  for (const [table, ownership] of Object.entries(TABLE_OWNERS)) {
    if (ownership.owner !== service) continue;
    statements.push(`GRANT ${ownership.privileges.join(', ')} ON TABLE ${quoteIdent(table)} TO ${r}`);
    const sequence = `${table}${SEQUENCE_SUFFIX}`;
    if (sequences.includes(sequence)) statements.push(`GRANT USAGE ON SEQUENCE ${quoteIdent(sequence)} TO ${r}`);
  }
  return statements;
}
