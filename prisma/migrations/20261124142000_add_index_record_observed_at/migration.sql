-- Index records carry when the connector read their flags and keywords, so that an older record of a
-- sighting delivered after a newer one no longer overwrites the newer flags
-- (apps/indexing/src/records/repositories/index-record.repository.ts). A record indexed before
-- this column existed was observed no later than it was last written: it counts as observed then.

-- AlterTable
ALTER TABLE "index_records" ADD COLUMN     "observed_at" TIMESTAMPTZ(3);

UPDATE "index_records" SET "observed_at" = "updated_at";

ALTER TABLE "index_records" ALTER COLUMN "observed_at" SET NOT NULL,
ALTER COLUMN "observed_at" SET DEFAULT CURRENT_TIMESTAMP;
