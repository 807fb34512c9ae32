-- Source-neutral cursors: a folder's checkpoint is the versioned cursor of the adapter that wrote it
-- (source, cursor_version, epoch, position, changes, state) instead of IMAP's columns. Every existing
-- checkpoint was written by the IMAP adapter and becomes its cursor 'imap' v1: epoch = UIDVALIDITY,
-- position = the last UID, changes = HIGHESTMODSEQ; so the next backup goes on from it incrementally.
-- source_state was never written by a release; were it set, it is kept as the cursor's state (a JSON
-- string as its text, anything else as JSON text).

-- AlterTable
ALTER TABLE "folder_checkpoints" ADD COLUMN     "changes" BIGINT,
ADD COLUMN     "cursor_version" INTEGER,
ADD COLUMN     "epoch" TEXT,
ADD COLUMN     "position" BIGINT,
ADD COLUMN     "source" TEXT,
ADD COLUMN     "state" TEXT;

UPDATE "folder_checkpoints"
SET "source" = 'imap',
    "cursor_version" = 1,
    "epoch" = "uid_validity"::text,
    "position" = "last_uid",
    "changes" = "highest_mod_seq",
    "state" = "source_state" #>> '{}';

ALTER TABLE "folder_checkpoints" ALTER COLUMN "cursor_version" SET NOT NULL,
ALTER COLUMN "epoch" SET NOT NULL,
ALTER COLUMN "position" SET NOT NULL,
ALTER COLUMN "source" SET NOT NULL;

ALTER TABLE "folder_checkpoints" DROP COLUMN "highest_mod_seq",
DROP COLUMN "last_uid",
DROP COLUMN "source_state",
DROP COLUMN "uid_validity";
