-- CreateEnum
CREATE TYPE "object_layout" AS ENUM ('packed', 'individual');

-- AlterTable
ALTER TABLE "stored_objects" ADD COLUMN     "pack_id" TEXT,
ADD COLUMN     "version_id" TEXT;

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "object_layout" "object_layout" NOT NULL DEFAULT 'packed';

-- CreateTable
CREATE TABLE "packs" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "bucket" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "version_id" TEXT,
    "size" BIGINT NOT NULL,
    "member_count" INTEGER NOT NULL,
    "retain_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "packs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "packs_tenant_id_created_at_idx" ON "packs"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "packs_bucket_key_key" ON "packs"("bucket", "key");

-- CreateIndex
CREATE INDEX "stored_objects_pack_id_idx" ON "stored_objects"("pack_id");

-- AddForeignKey
ALTER TABLE "packs" ADD CONSTRAINT "packs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stored_objects" ADD CONSTRAINT "stored_objects_pack_id_fkey" FOREIGN KEY ("pack_id") REFERENCES "packs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
