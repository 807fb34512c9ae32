-- A running job that makes no progress for a while is marked stalled by scheduling's ticker, with
-- the reason (no word from its connector, or word without progress); its next progress makes it
-- running again. `progress_at` is when its counters last moved (or it started), `last_event_at` when
-- its connector was last heard of (apps/scheduling/src/dispatch/stall-watch.ts).

-- AlterEnum
ALTER TYPE "job_state" ADD VALUE 'stalled' AFTER 'running';

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "last_event_at" TIMESTAMPTZ(3),
ADD COLUMN     "progress_at" TIMESTAMPTZ(3),
ADD COLUMN     "stalled_reason" TEXT;
