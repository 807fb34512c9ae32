-- Legal holds (owned by indexing): while one covers a tenant or a mailbox, none of its index records
-- expires. And the index expiry walks: a mailbox's records by the time they were first backed up.
-- CreateTable
CREATE TABLE "legal_holds" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "set_by" TEXT NOT NULL,
    "set_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "legal_holds_pkey" PRIMARY KEY ("id")
);

-- Expiry compares mailboxes in lower case (holds and plans name them so; connectors report them as
-- the mail server spells them). An expression index, which Prisma neither declares nor diffs.
CREATE INDEX "index_records_tenant_lower_mailbox_created_idx" ON "index_records"("tenant_id", lower("mailbox"), "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "legal_holds_tenant_id_scope_key" ON "legal_holds"("tenant_id", "scope");
