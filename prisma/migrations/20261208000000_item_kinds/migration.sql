-- Item kinds made real (issue 15): what an item's stored bytes are (form), the fields of its kind
-- (kind_fields, from the connector) and the columns indexing derives from them for searching. Every
-- existing record is a message stored as RFC 5322 with no kind fields: the defaults say so, and no
-- row is rewritten (nullable columns and constant defaults only).

-- CreateEnum
CREATE TYPE "item_form" AS ENUM ('rfc5322', 'icalendar', 'vcard');

-- AlterEnum
ALTER TYPE "restore_outcome" ADD VALUE 'refused';

-- AlterTable
ALTER TABLE "index_records" ADD COLUMN "completed_at" TIMESTAMPTZ(3),
ADD COLUMN "due_at" TIMESTAMPTZ(3),
ADD COLUMN "ends_at" TIMESTAMPTZ(3),
ADD COLUMN "form" "item_form" NOT NULL DEFAULT 'rfc5322',
ADD COLUMN "kind_fields" JSONB,
ADD COLUMN "kind_keys" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN "kind_text" TEXT,
ADD COLUMN "starts_at" TIMESTAMPTZ(3),
ADD COLUMN "task_status" TEXT;

-- AlterTable
ALTER TABLE "restore_items" ADD COLUMN "form" "item_form" NOT NULL DEFAULT 'rfc5322',
ADD COLUMN "item_type" "item_type" NOT NULL DEFAULT 'mail';

-- CreateIndex
CREATE INDEX "index_records_kind_keys_idx" ON "index_records" USING GIN ("kind_keys");

-- CreateIndex
CREATE INDEX "index_records_kind_text_trgm_idx" ON "index_records" USING GIN ("kind_text" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "index_records_tenant_id_starts_at_idx" ON "index_records"("tenant_id", "starts_at");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_due_at_idx" ON "index_records"("tenant_id", "due_at");
