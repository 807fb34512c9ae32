-- Indexes for searching index records (apps/indexing/src/search). Hand-written: most of them index
-- expressions, which schema.prisma cannot declare and Prisma's diff ignores (so the drift check stays
-- clean). schema.prisma lists them in a comment on IndexRecord; change both together.

-- Trigram indexes make case-insensitive "contains" searches (ILIKE '%...%') indexable. pg_trgm is a
-- trusted contrib extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- The search keys of a message's participants: `from:@<domain>` for the sender's domain, and
-- `to:<address>` and `to:@<domain>` for each recipient (to, cc, bcc), without repeats. Addresses are
-- stored lower case; the domain is what follows the last '@'.
CREATE FUNCTION "mlr_participant_keys"("sender" TEXT, "recipients" TEXT[]) RETURNS TEXT[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
    keys TEXT[] := '{}';
    address TEXT;
    key TEXT;
BEGIN
    IF "sender" LIKE '%@%' THEN
        keys := keys || ('from:@' || split_part("sender", '@', -1));
    END IF;
    FOREACH address IN ARRAY coalesce("recipients", '{}') LOOP
        CONTINUE WHEN address IS NULL;
        key := 'to:' || address;
        IF NOT key = ANY(keys) THEN keys := keys || key; END IF;
        IF address LIKE '%@%' THEN
            key := 'to:@' || split_part(address, '@', -1);
            IF NOT key = ANY(keys) THEN keys := keys || key; END IF;
        END IF;
    END LOOP;
    RETURN keys;
END
$$;

-- Stored, not computed while searching: the function costs microseconds per row, which a search that
-- walks the date index and filters (frequent keys) would pay on every row it looks at, and which makes
-- the planner misjudge rare keys. Hand-written (schema.prisma declares the column @ignore'd, with this
-- expression as PostgreSQL renders it). Adding it rewrites the table once.
ALTER TABLE "index_records" ADD COLUMN "participant_keys" TEXT[]
    GENERATED ALWAYS AS ("mlr_participant_keys"("sender", "to_addresses" || "cc_addresses" || "bcc_addresses")) STORED;

-- DropIndex (superseded by the message-date indexes below)
DROP INDEX "index_records_tenant_id_mailbox_submission_date_idx";
DROP INDEX "index_records_tenant_id_submission_date_idx";
DROP INDEX "index_records_tenant_id_sender_idx";

-- Search results are ordered by the message date (the Date header, else INTERNALDATE; a record with
-- neither sorts last, as -infinity) and then the id. These three serve the common cases in that
-- order: the tenant, one mailbox, one sender.
CREATE INDEX "index_records_tenant_message_date_idx" ON "index_records"
    ("tenant_id", (coalesce("submission_date", "internal_date", '-infinity'::timestamptz)), "id");
CREATE INDEX "index_records_tenant_mailbox_message_date_idx" ON "index_records"
    ("tenant_id", "mailbox", (coalesce("submission_date", "internal_date", '-infinity'::timestamptz)), "id");
CREATE INDEX "index_records_tenant_sender_message_date_idx" ON "index_records"
    ("tenant_id", "sender", (coalesce("submission_date", "internal_date", '-infinity'::timestamptz)), "id");

CREATE INDEX "index_records_participant_keys_idx" ON "index_records" USING GIN ("participant_keys");

CREATE INDEX "index_records_subject_trgm_idx" ON "index_records" USING GIN ("subject" gin_trgm_ops);

CREATE INDEX "index_records_attachment_names_trgm_idx" ON "index_records" USING GIN
    ("mlr_search_words"("attachment_names") gin_trgm_ops);
