-- AlterTable
ALTER TABLE "connectors" ADD COLUMN     "nats_revoked_at" TIMESTAMPTZ(3);
