-- Object versions found in the bucket beside the version storage recorded for their key (someone
-- wrote over a pack or an object); each is reported to the audit trail once (audited_at).
-- CreateTable
CREATE TABLE "unexpected_object_versions" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "bucket" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "version_id" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "last_modified" TIMESTAMPTZ(3) NOT NULL,
    "written_by" TEXT,
    "found_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "audited_at" TIMESTAMPTZ(3),

    CONSTRAINT "unexpected_object_versions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "unexpected_object_versions_bucket_key_version_id_key" ON "unexpected_object_versions"("bucket", "key", "version_id");
