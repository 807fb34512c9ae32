-- AlterTable
ALTER TABLE "backup_plans" ADD COLUMN     "deleted_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "job_item_errors" ADD COLUMN     "event_index" INTEGER,
ADD COLUMN     "event_sequence" BIGINT,
ADD COLUMN     "target" TEXT;

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "last_event_sequence" BIGINT,
ADD COLUMN     "published_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE UNIQUE INDEX "job_item_errors_job_id_event_sequence_event_index_key" ON "job_item_errors"("job_id", "event_sequence", "event_index");

-- CreateIndex
CREATE INDEX "jobs_state_published_at_idx" ON "jobs"("state", "published_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_plan_id_created_at_idx" ON "jobs"("tenant_id", "plan_id", "created_at");
