-- Restore and export jobs keep their items (the index records resolved when the job was created)
-- and the result the connector reported for each.

-- CreateEnum
CREATE TYPE "restore_outcome" AS ENUM ('pending', 'restored', 'skipped', 'failed');

-- CreateTable
CREATE TABLE "restore_items" (
    "job_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "record_id" TEXT NOT NULL,
    "content_id" TEXT NOT NULL,
    "mailbox" TEXT NOT NULL,
    "folder" TEXT NOT NULL,
    "message_id" TEXT,
    "subject" TEXT,
    "internal_date" TIMESTAMPTZ(3),
    "flags" JSONB NOT NULL,
    "keywords" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "size" BIGINT NOT NULL,
    "outcome" "restore_outcome" NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "target_mailbox" TEXT,
    "target_folder" TEXT,
    "finished_at" TIMESTAMPTZ(3),
    "result_sequence" BIGINT,

    CONSTRAINT "restore_items_pkey" PRIMARY KEY ("job_id","seq")
);

-- CreateIndex
CREATE INDEX "restore_items_job_id_outcome_seq_idx" ON "restore_items"("job_id", "outcome", "seq");

-- AddForeignKey
ALTER TABLE "restore_items" ADD CONSTRAINT "restore_items_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
