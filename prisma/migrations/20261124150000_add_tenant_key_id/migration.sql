-- Every connector of a tenant must seal with the tenant's one key (objects sealed through one connector
-- must open through another, and content ids, keyed HMACs, must deduplicate across them). The key stays
-- on the customer's side; licensing records its key id at the tenant's first enrolment and refuses a
-- connector that would use another key (apps/licensing/src/connectors/connectors.repository.ts).

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "tenant_key_id" TEXT;

-- A tenant that has backups already keeps the key its first sealed object was sealed with (what its
-- first connector used). A key id that also appears among another tenant's objects is left unrecorded
-- (one key belongs to one tenant): the tenant's next enrolment records its key.
UPDATE "tenants" AS t
SET "tenant_key_id" = first_object."key_id"
FROM (
    SELECT DISTINCT ON ("tenant_id") "tenant_id", "key_id"
    FROM "stored_objects"
    ORDER BY "tenant_id", "created_at", "id"
) AS first_object
WHERE first_object."tenant_id" = t."id"
  AND NOT EXISTS (
    SELECT 1 FROM "stored_objects" AS other
    WHERE other."key_id" = first_object."key_id" AND other."tenant_id" <> t."id"
  );

-- CreateIndex
CREATE UNIQUE INDEX "tenants_tenant_key_id_key" ON "tenants"("tenant_key_id");
