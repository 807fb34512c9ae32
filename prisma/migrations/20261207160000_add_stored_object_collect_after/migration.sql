-- The collector marks an object without references (collect_after); storage's single-instance check
-- clears the mark when a new sighting finds the object again, so a marked object is removed only if
-- nothing found it in the meantime.
-- AlterTable
ALTER TABLE "stored_objects" ADD COLUMN "collect_after" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "stored_objects_collect_after_idx" ON "stored_objects"("collect_after");
