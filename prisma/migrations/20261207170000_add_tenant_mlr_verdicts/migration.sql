-- Scheduling's memory of licensing's answers about a tenant's MLR flag (owned by scheduling), which
-- replaces its read of licensing's tenants table while licensing cannot be reached.
-- CreateTable
CREATE TABLE "tenant_mlr_verdicts" (
    "tenant_id" TEXT NOT NULL,
    "mlr_enabled" BOOLEAN NOT NULL,
    "heard_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tenant_mlr_verdicts_pkey" PRIMARY KEY ("tenant_id")
);
