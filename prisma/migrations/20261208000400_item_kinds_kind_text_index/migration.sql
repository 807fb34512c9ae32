-- Item kinds: index of the kinds' texts (location, names, caller): LIKE '%...%'. Partial (only items of a kind that has the column), built without
-- blocking ingest or search (CONCURRENTLY; one statement, so the migration is no transaction block).
-- Declared nowhere in schema.prisma: Prisma cannot express partial indexes (see the list there).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "index_records_kind_text_trgm_idx" ON "index_records" USING GIN ("kind_text" gin_trgm_ops) WHERE "kind_text" IS NOT NULL;
