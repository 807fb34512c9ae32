-- Item kinds: index of appointments' and tasks' start (startsFrom/startsTo). Partial (only items of a kind that has the column), built without
-- blocking ingest or search (CONCURRENTLY; one statement, so the migration is no transaction block).
-- Declared nowhere in schema.prisma: Prisma cannot express partial indexes (see the list there).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "index_records_tenant_starts_at_idx" ON "index_records" ("tenant_id", "starts_at") WHERE "starts_at" IS NOT NULL;
