-- Reference counts are storage's: indexing writes its changes to an outbox of its own
-- (reference_changes) in the statement that writes the records, and relays them to storage, which
-- applies each change once (applied_reference_changes).
-- CreateTable
CREATE TABLE "reference_changes" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "object_id" TEXT NOT NULL,
    "delta" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reference_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "applied_reference_changes" (
    "change_id" BIGINT NOT NULL,
    "applied_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "applied_reference_changes_pkey" PRIMARY KEY ("change_id")
);

-- CreateIndex
CREATE INDEX "reference_changes_tenant_id_idx" ON "reference_changes"("tenant_id");
