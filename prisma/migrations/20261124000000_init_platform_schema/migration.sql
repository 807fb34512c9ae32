-- CreateEnum
CREATE TYPE "connector_kind" AS ENUM ('imap', 'graph', 'pst', 'outlook_profile', 'mail_files', 'domino', 'groupwise');

-- CreateEnum
CREATE TYPE "receive_as_capability" AS ENUM ('yes', 'no', 'unknown');

-- CreateEnum
CREATE TYPE "mailbox_kind" AS ENUM ('user', 'shared', 'public_folder');

-- CreateEnum
CREATE TYPE "job_kind" AS ENUM ('backup', 'restore', 'export');

-- CreateEnum
CREATE TYPE "job_state" AS ENUM ('queued', 'running', 'succeeded', 'partially_failed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "importance" AS ENUM ('low', 'normal', 'high');

-- CreateEnum
CREATE TYPE "item_type" AS ENUM ('mail', 'appointment', 'task', 'note', 'contact', 'notification', 'phone_message', 'other');

-- CreateEnum
CREATE TYPE "actor_role" AS ENUM ('operator', 'tenant_admin', 'user', 'connector', 'system');

-- CreateEnum
CREATE TYPE "audit_outcome" AS ENUM ('success', 'denied', 'failure');

-- CreateTable
CREATE TABLE "licences" (
    "id" TEXT NOT NULL,
    "serial" TEXT NOT NULL,
    "document" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "signing_key_id" TEXT NOT NULL,
    "licensee" TEXT NOT NULL,
    "features" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "max_tenants" INTEGER,
    "max_protected_mailboxes" INTEGER,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "imported_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "imported_by" TEXT NOT NULL,
    "superseded_at" TIMESTAMPTZ(3),

    CONSTRAINT "licences_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenants" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "mlr_enabled" BOOLEAN NOT NULL DEFAULT false,
    "enabled_at" TIMESTAMPTZ(3),
    "enabled_by" TEXT,
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connectors" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "connector_kind" NOT NULL,
    "enrolment_token_hash" TEXT,
    "enrolment_token_expires_at" TIMESTAMPTZ(3),
    "enrolment_token_used_at" TIMESTAMPTZ(3),
    "nats_user_public_key" TEXT,
    "receive_as" "receive_as_capability" NOT NULL DEFAULT 'unknown',
    "capability_warnings" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "capability_checked_at" TIMESTAMPTZ(3),
    "agent_version" TEXT,
    "last_seen_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "connectors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_samples" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "sampled_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "protected_mailboxes" INTEGER NOT NULL,
    "stored_objects" BIGINT NOT NULL,
    "stored_bytes" BIGINT NOT NULL,

    CONSTRAINT "usage_samples_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mailboxes" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "connector_id" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "display_name" TEXT,
    "kind" "mailbox_kind" NOT NULL DEFAULT 'user',
    "last_backup_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "mailboxes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "backup_plans" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "connector_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "mailbox_selection" JSONB NOT NULL,
    "filter" JSONB NOT NULL,
    "cron" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "retention_days" INTEGER,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "next_run_at" TIMESTAMPTZ(3),
    "last_run_at" TIMESTAMPTZ(3),
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "backup_plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "connector_id" TEXT NOT NULL,
    "plan_id" TEXT,
    "kind" "job_kind" NOT NULL,
    "state" "job_state" NOT NULL DEFAULT 'queued',
    "request" JSONB NOT NULL,
    "seen_count" INTEGER NOT NULL DEFAULT 0,
    "new_count" INTEGER NOT NULL DEFAULT 0,
    "deduplicated_count" INTEGER NOT NULL DEFAULT 0,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "restored_count" INTEGER NOT NULL DEFAULT 0,
    "skipped_count" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "requested_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_item_errors" (
    "id" BIGSERIAL NOT NULL,
    "job_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "mailbox" TEXT,
    "folder" TEXT,
    "uid_validity" BIGINT,
    "uid" BIGINT,
    "message_id" TEXT,
    "content_id" TEXT,
    "message" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_item_errors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "folder_checkpoints" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "connector_id" TEXT NOT NULL,
    "mailbox" TEXT NOT NULL,
    "folder" TEXT NOT NULL,
    "uid_validity" BIGINT NOT NULL,
    "last_uid" BIGINT NOT NULL,
    "highest_mod_seq" BIGINT,
    "source_state" JSONB,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "folder_checkpoints_pkey" PRIMARY KEY ("id")
);

-- Full-text search helpers (hand-written: Prisma cannot declare functions or generated columns).
-- A generated column may only call IMMUTABLE functions; array_to_string() is merely STABLE because
-- some element types print differently per session, but on text[] it is immutable, as declared here.
CREATE FUNCTION "mlr_search_words"("words" TEXT[]) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_string("words", ' '), '') $$;

-- Addresses as searchable words: the whole address, and its local part and domain on their own.
CREATE FUNCTION "mlr_address_words"("addresses" TEXT[]) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_string("addresses", ' ') || ' ' || translate(array_to_string("addresses", ' '), '@', ' '), '') $$;

-- CreateTable
CREATE TABLE "index_records" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "mailbox" TEXT NOT NULL,
    "folder" TEXT NOT NULL,
    "uid_validity" BIGINT NOT NULL,
    "uid" BIGINT NOT NULL,
    "content_id" TEXT NOT NULL,
    "object_id" TEXT NOT NULL,
    "message_id" TEXT,
    "submission_date" TIMESTAMPTZ(3),
    "internal_date" TIMESTAMPTZ(3),
    "sender" TEXT,
    "sender_name" TEXT,
    "to_addresses" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "cc_addresses" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "bcc_addresses" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "subject" TEXT,
    "attachment_names" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "has_attachment" BOOLEAN NOT NULL DEFAULT false,
    "follow_up" BOOLEAN NOT NULL DEFAULT false,
    "importance" "importance" NOT NULL DEFAULT 'normal',
    "item_type" "item_type" NOT NULL DEFAULT 'mail',
    "seen" BOOLEAN NOT NULL DEFAULT false,
    "answered" BOOLEAN NOT NULL DEFAULT false,
    "flagged" BOOLEAN NOT NULL DEFAULT false,
    "draft" BOOLEAN NOT NULL DEFAULT false,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "keywords" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "size" BIGINT NOT NULL,
    "parse_problems" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "backup_job_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    -- Hand-written: schema.prisma declares this column as Unsupported("tsvector")?; the expression lives here only.
    "search_vector" tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce("subject", '')), 'A') ||
        setweight(to_tsvector('simple'::regconfig,
            "mlr_address_words"(ARRAY["sender"] || "to_addresses" || "cc_addresses" || "bcc_addresses") || ' ' || coalesce("sender_name", '')), 'B') ||
        setweight(to_tsvector('simple'::regconfig, "mlr_search_words"("attachment_names")), 'C')
    ) STORED,

    CONSTRAINT "index_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stored_objects" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "content_id" TEXT NOT NULL,
    "bucket" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "byte_offset" BIGINT,
    "byte_length" BIGINT,
    "plain_size" BIGINT NOT NULL,
    "sealed_size" BIGINT NOT NULL,
    "key_id" TEXT NOT NULL,
    "ref_count" INTEGER NOT NULL DEFAULT 0,
    "retain_until" TIMESTAMPTZ(3),
    "legal_hold" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stored_objects_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" TEXT,
    "actor" TEXT NOT NULL,
    "role" "actor_role" NOT NULL,
    "action" TEXT NOT NULL,
    "target" TEXT,
    "outcome" "audit_outcome" NOT NULL,
    "detail" JSONB,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "licences_serial_key" ON "licences"("serial");

-- CreateIndex
CREATE INDEX "licences_expires_at_idx" ON "licences"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "connectors_enrolment_token_hash_key" ON "connectors"("enrolment_token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "connectors_nats_user_public_key_key" ON "connectors"("nats_user_public_key");

-- CreateIndex
CREATE UNIQUE INDEX "connectors_tenant_id_name_key" ON "connectors"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "usage_samples_tenant_id_sampled_at_idx" ON "usage_samples"("tenant_id", "sampled_at");

-- CreateIndex
CREATE INDEX "mailboxes_tenant_id_address_idx" ON "mailboxes"("tenant_id", "address");

-- CreateIndex
CREATE UNIQUE INDEX "mailboxes_connector_id_address_key" ON "mailboxes"("connector_id", "address");

-- CreateIndex
CREATE INDEX "backup_plans_enabled_next_run_at_idx" ON "backup_plans"("enabled", "next_run_at");

-- CreateIndex
CREATE UNIQUE INDEX "backup_plans_tenant_id_name_key" ON "backup_plans"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_created_at_idx" ON "jobs"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_connector_id_state_idx" ON "jobs"("connector_id", "state");

-- CreateIndex
CREATE INDEX "jobs_state_lease_expires_at_idx" ON "jobs"("state", "lease_expires_at");

-- CreateIndex
CREATE INDEX "job_item_errors_job_id_idx" ON "job_item_errors"("job_id");

-- CreateIndex
CREATE UNIQUE INDEX "folder_checkpoints_connector_id_mailbox_folder_key" ON "folder_checkpoints"("connector_id", "mailbox", "folder");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_mailbox_submission_date_idx" ON "index_records"("tenant_id", "mailbox", "submission_date");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_submission_date_idx" ON "index_records"("tenant_id", "submission_date");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_sender_idx" ON "index_records"("tenant_id", "sender");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_message_id_idx" ON "index_records"("tenant_id", "message_id");

-- CreateIndex
CREATE INDEX "index_records_tenant_id_content_id_idx" ON "index_records"("tenant_id", "content_id");

-- CreateIndex
CREATE INDEX "index_records_object_id_idx" ON "index_records"("object_id");

-- CreateIndex
CREATE INDEX "index_records_search_vector_idx" ON "index_records" USING GIN ("search_vector");

-- CreateIndex
CREATE UNIQUE INDEX "index_records_tenant_id_mailbox_folder_uid_validity_uid_key" ON "index_records"("tenant_id", "mailbox", "folder", "uid_validity", "uid");

-- CreateIndex
CREATE INDEX "stored_objects_retain_until_idx" ON "stored_objects"("retain_until");

-- CreateIndex
CREATE UNIQUE INDEX "stored_objects_tenant_id_content_id_key" ON "stored_objects"("tenant_id", "content_id");

-- CreateIndex
CREATE INDEX "audit_events_tenant_id_at_idx" ON "audit_events"("tenant_id", "at");

-- CreateIndex
CREATE INDEX "audit_events_actor_at_idx" ON "audit_events"("actor", "at");

-- AddForeignKey
ALTER TABLE "connectors" ADD CONSTRAINT "connectors_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_samples" ADD CONSTRAINT "usage_samples_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_connector_id_fkey" FOREIGN KEY ("connector_id") REFERENCES "connectors"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "backup_plans" ADD CONSTRAINT "backup_plans_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "backup_plans" ADD CONSTRAINT "backup_plans_connector_id_fkey" FOREIGN KEY ("connector_id") REFERENCES "connectors"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_connector_id_fkey" FOREIGN KEY ("connector_id") REFERENCES "connectors"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "backup_plans"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_item_errors" ADD CONSTRAINT "job_item_errors_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_item_errors" ADD CONSTRAINT "job_item_errors_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "folder_checkpoints" ADD CONSTRAINT "folder_checkpoints_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "folder_checkpoints" ADD CONSTRAINT "folder_checkpoints_connector_id_fkey" FOREIGN KEY ("connector_id") REFERENCES "connectors"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "index_records" ADD CONSTRAINT "index_records_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "index_records" ADD CONSTRAINT "index_records_object_id_fkey" FOREIGN KEY ("object_id") REFERENCES "stored_objects"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stored_objects" ADD CONSTRAINT "stored_objects_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE SET NULL ON UPDATE CASCADE;
