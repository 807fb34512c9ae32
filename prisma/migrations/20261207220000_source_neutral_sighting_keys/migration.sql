-- Source-neutral sighting keys: an index record (and a per-item error) names its item by the source's
-- own key (sighting_source, sighting_epoch, sighting_id) instead of IMAP's UIDVALIDITY and UID. Every
-- existing record was written from IMAP and gets the key the IMAP adapter now sends for the same
-- message: source 'imap', epoch = UIDVALIDITY, id = UID (decimal, as bigint::text writes them), so
-- the next backup updates these records instead of adding new ones.

-- index_records
ALTER TABLE "index_records" ADD COLUMN "sighting_source" TEXT,
ADD COLUMN "sighting_epoch" TEXT,
ADD COLUMN "sighting_id" TEXT;

UPDATE "index_records"
SET "sighting_source" = 'imap', "sighting_epoch" = "uid_validity"::text, "sighting_id" = "uid"::text;

ALTER TABLE "index_records" ALTER COLUMN "sighting_source" SET NOT NULL,
ALTER COLUMN "sighting_epoch" SET NOT NULL,
ALTER COLUMN "sighting_id" SET NOT NULL;

DROP INDEX "index_records_tenant_id_mailbox_folder_uid_validity_uid_key";

CREATE UNIQUE INDEX "index_records_sighting_key" ON "index_records"("tenant_id", "mailbox", "folder", "sighting_source", "sighting_epoch", "sighting_id");

ALTER TABLE "index_records" DROP COLUMN "uid",
DROP COLUMN "uid_validity";

-- job_item_errors
ALTER TABLE "job_item_errors" ADD COLUMN "sighting_epoch" TEXT,
ADD COLUMN "sighting_id" TEXT,
ADD COLUMN "sighting_source" TEXT;

UPDATE "job_item_errors"
SET "sighting_source" = 'imap', "sighting_epoch" = "uid_validity"::text, "sighting_id" = "uid"::text
WHERE "uid_validity" IS NOT NULL AND "uid" IS NOT NULL;

ALTER TABLE "job_item_errors" DROP COLUMN "uid",
DROP COLUMN "uid_validity";
