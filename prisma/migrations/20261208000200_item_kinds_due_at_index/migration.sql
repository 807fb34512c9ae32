-- Item kinds: index of tasks' due time (dueFrom/dueTo). Partial (only items of a kind that has the column), built without
-- blocking ingest or search (CONCURRENTLY; one statement, so the migration is no transaction block).
-- Declared nowhere in schema.prisma: Prisma cannot express partial indexes (see the list there).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "index_records_tenant_due_at_idx" ON "index_records" ("tenant_id", "due_at") WHERE "due_at" IS NOT NULL;
