-- Item kinds: index of the search keys of the kinds' fields (attendee, email, phone, recurring, callback, urgent). Partial (only items of a kind that has the column), built without
-- blocking ingest or search (CONCURRENTLY; one statement, so the migration is no transaction block).
-- Declared nowhere in schema.prisma: Prisma cannot express partial indexes (see the list there).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "index_records_kind_keys_idx" ON "index_records" USING GIN ("kind_keys") WHERE "kind_keys" IS NOT NULL;
