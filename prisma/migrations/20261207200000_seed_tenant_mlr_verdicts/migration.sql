-- Scheduling's first memory of licensing's MLR flags, taken from licensing's table once, by the owner
-- role: a licensing outage right after the upgrade then refuses no tenant that had MLR enabled.
INSERT INTO "tenant_mlr_verdicts" ("tenant_id", "mlr_enabled", "heard_at")
SELECT "id", "mlr_enabled", CURRENT_TIMESTAMP FROM "tenants"
ON CONFLICT ("tenant_id") DO NOTHING;
