import type { Prisma, PrismaClient } from '@mlr/db';
import type { LicenceDocument } from '@mlr/contracts';
import { licenceTerms, type LicenceRecord } from './licence.js';
import { verifyStoredLicence, type VendorKey } from './licence-signature.js';

/*
 * The licence in force as the database holds it, trusted only as far as the vendor's signature
 * goes. Every term (features, limits, dates, licensee, serial) is read from the signed document,
 * whose signature is verified with the configured vendor key each time the licence is loaded; the
 * row's other columns are a copy for people reading the table, and a copy that disagrees with the
 * document means the row was edited: such a licence, like one whose document or signature no
 * longer verifies, is not in force.
 */

/** The vendor public key the service verifies licences with; null when none is configured. */
export const VENDOR_KEY = Symbol('VENDOR_KEY');

export type Db = Prisma.TransactionClient | PrismaClient;

/** A stored licence, with when (if ever) a newer import replaced it. */
export interface StoredLicence extends LicenceRecord {
  supersededAt: Date | null;
}

export type LicenceRow = Awaited<ReturnType<PrismaClient['licence']['findFirstOrThrow']>>;

export type StoredLicenceReading =
  | { verified: true; licence: StoredLicence }
  /** `problem`: why the licence does not verify, one sentence naming the serial, for the operator. */
  | { verified: false; problem: string };

/** The licence in force, or why there is none although one was imported. */
export interface LicenceInForce {
  /** The latest import not superseded, verified; null when there is none or it does not verify. */
  licence: LicenceRecord | null;
  /** Why the latest import is not in force (it does not verify); null when it is, or none was imported. */
  problem: string | null;
}

/** Row columns that copy a signed term, with the term as the document states it (as the column holds it). */
function copiedTerms(row: LicenceRow, document: LicenceDocument): Array<[column: string, same: boolean]> {
  const sameDate = (column: Date, term: string) => column.getTime() === Date.parse(term);
  return [
    ['serial', row.serial === document.serial],
    ['licensee', row.licensee === document.licensee],
    ['features', JSON.stringify(row.features) === JSON.stringify(document.features)],
    ['max_tenants', row.maxTenants === document.maxTenants],
    ['max_protected_mailboxes', row.maxProtectedMailboxes === document.maxProtectedMailboxes],
    ['issued_at', sameDate(row.issuedAt, document.issuedAt)],
    ['expires_at', sameDate(row.expiresAt, document.expiresAt)],
  ];
}

/**
 * Reads a stored licence: verifies it with `trusted` (the configured vendor key) and takes every
 * term from its signed document. Who imported it, when, and whether it was superseded are the
 * row's own facts, not terms.
 */
export function readStoredLicence(row: LicenceRow, trusted: VendorKey | null): StoredLicenceReading {
  const subject = `the stored licence ${row.serial} does not verify`;
  const advice = "import the vendor's signed licence again (POST /v1/licence)";
  if (!trusted) {
    return {
      verified: false,
      problem: `${subject}: this licensing service has no vendor public key (LICENSING_VENDOR_PUBLIC_KEY) to verify it with; configure the vendor key`,
    };
  }
  const verification = verifyStoredLicence(
    { document: row.document, signature: row.signature, keyId: row.signingKeyId },
    trusted,
  );
  if (!verification.ok) return { verified: false, problem: `${subject}: ${verification.problem}; ${advice}` };
  const { document } = verification;
  const edited = copiedTerms(row, document)
    .filter(([, same]) => !same)
    .map(([column]) => column);
  if (edited.length > 0) {
    return {
      verified: false,
      problem: `${subject}: its ${edited.join(', ')} ${edited.length === 1 ? 'column differs' : 'columns differ'} from its signed document, so the row was changed after the import; ${advice}`,
    };
  }
  return {
    verified: true,
    licence: {
      ...licenceTerms(document),
      document: row.document,
      signature: row.signature,
      keyId: trusted.keyId,
      importedAt: row.importedAt,
      importedBy: row.importedBy,
      supersededAt: row.supersededAt,
    },
  };
}

/** The stored licence row in force: the latest import not superseded. */
export function licenceRowInForce(db: Db): Promise<LicenceRow | null> {
  return db.licence.findFirst({ where: { supersededAt: null }, orderBy: { importedAt: 'desc' } });
}

/** The licence in force as seen through `db` (a transaction or the client), verified with `trusted`. */
export async function loadLicenceInForce(db: Db, trusted: VendorKey | null): Promise<LicenceInForce> {
  const row = await licenceRowInForce(db);
  if (!row) return { licence: null, problem: null };
  const reading = readStoredLicence(row, trusted);
  return reading.verified ? { licence: reading.licence, problem: null } : { licence: null, problem: reading.problem };
}
