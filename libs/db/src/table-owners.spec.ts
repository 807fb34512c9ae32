import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_PATH } from './migration-engine.js';
import { TABLE_OWNERS, serviceGrantStatements } from './table-owners.js';

/** (table, owner) of every model of schema.prisma, from its `/// Owner: <service>.` comment and `@@map`. */
function schemaOwners(): Record<string, string> {
  const lines = readFileSync(DEFAULT_SCHEMA_PATH, 'utf8').split('\n');
  const owners: Record<string, string> = {};
  lines.forEach((line, at) => {
    if (!line.startsWith('model ')) return;
    // The doc comment right above the model.
    let owner = '(none)';
    for (let above = at - 1; above >= 0 && lines[above]?.startsWith('///'); above--) {
      owner = /^\/\/\/ Owner: (\w+)/.exec(lines[above] ?? '')?.[1] ?? owner;
    }
    const end = lines.indexOf('}', at);
    const table = lines
      .slice(at, end)
      .map((body) => /@@map\("(\w+)"\)/.exec(body)?.[1])
      .find((name) => name !== undefined);
    if (table) owners[table] = owner;
  });
  return owners;
}

describe('TABLE_OWNERS', () => {
  it('names the owner that schema.prisma names for every table, and no other table', () => {
    const owners = Object.fromEntries(Object.entries(TABLE_OWNERS).map(([table, { owner }]) => [table, owner]));
    expect(owners).toEqual(schemaOwners());
  });

  it('revokes first, then grants the own tables and their sequences, nothing else', () => {
    const tables = Object.keys(TABLE_OWNERS);
    const statements = serviceGrantStatements('storage', 'mlr_storage', tables, ['usage_samples_id_seq']);
    expect(statements.slice(0, 3)).toEqual([
      'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
      'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "mlr_storage"',
      'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "mlr_storage"',
    ]);
    expect(statements).toContain('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "stored_objects" TO "mlr_storage"');
    expect(statements.join('\n')).not.toMatch(/index_records|usage_samples|tenants/);
    const licensing = serviceGrantStatements('licensing', 'mlr_licensing', tables, ['usage_samples_id_seq']);
    expect(licensing).toContain('GRANT SELECT, INSERT ON TABLE "audit_events" TO "mlr_licensing"');
    expect(licensing).toContain('GRANT USAGE ON SEQUENCE "usage_samples_id_seq" TO "mlr_licensing"');
    expect(() => serviceGrantStatements('storage', 'x', [...tables, 'stray'], [])).toThrow(/without an owner.*stray/);
    expect(() => serviceGrantStatements('storage', 'x', tables.slice(1), [])).toThrow(/missing from the database/);
  });
});
