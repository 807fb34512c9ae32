-- Item kinds made real (issue 15): what an item's stored bytes are (form), the fields of its kind
-- (kind_fields, from the connector) and the columns indexing derives from them for searching. Every
-- existing record is a message stored as RFC 5322 with no kind fields: the defaults say so, and no
-- row is rewritten (nullable columns and constant defaults only), so the table is locked for a moment.
-- The search indexes of the new columns follow in migrations of their own, built CONCURRENTLY (a
-- migration is one transaction, which CREATE INDEX CONCURRENTLY cannot run in), partial: only items
-- with kind fields are in them, so mail costs them nothing.

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
ADD COLUMN "kind_keys" TEXT[],
ADD COLUMN "kind_text" TEXT,
ADD COLUMN "starts_at" TIMESTAMPTZ(3),
ADD COLUMN "task_status" TEXT;

-- AlterTable
ALTER TABLE "restore_items" ADD COLUMN "form" "item_form" NOT NULL DEFAULT 'rfc5322',
ADD COLUMN "item_type" "item_type" NOT NULL DEFAULT 'mail';
