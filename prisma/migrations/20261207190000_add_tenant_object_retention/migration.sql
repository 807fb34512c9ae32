-- The operator's default Object Lock retention of a tenant's objects (days; null: the platform's).
-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "object_retention_days" INTEGER;
