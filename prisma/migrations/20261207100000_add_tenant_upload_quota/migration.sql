-- A tenant's upload quota (bytes of chunks its connectors may have waiting in NATS for storage at
-- once: the byte limit of its chunk stream MLR_CHUNKS_<tenant>), set by the operator; NULL = the
-- platform default (LICENSING_UPLOAD_QUOTA_DEFAULT_BYTES).
ALTER TABLE "tenants" ADD COLUMN "upload_quota_bytes" BIGINT;
