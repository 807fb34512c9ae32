import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import {
  canonicalJson,
  licenceDocumentSchema,
  signedLicenceSchema,
  type LicenceDocument,
  type SignedLicence,
} from '@mlr/contracts';

/*
 * Signing and verifying licences with the vendor's Ed25519 key. Pure functions over node:crypto, so
 * that the vendor's licence tool (tools/licence) signs exactly what this service verifies.
 */

const DAY_MS = 86_400_000;

/** An Ed25519 public key the service trusts, with its fingerprint. */
export interface VendorKey {
  key: KeyObject;
  keyId: string;
}

/** Fingerprint of a vendor public key: the first 16 hex digits of SHA-256 over its SPKI DER encoding. */
export function vendorKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

function requireEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${what} is a ${key.asymmetricKeyType ?? key.type} key, not an Ed25519 key`);
  }
  return key;
}

/**
 * Reads the vendor public key as configured: a PEM `PUBLIC KEY` (line breaks may be written as `\n`,
 * as environment variables often carry them) or the base64 of its SPKI DER encoding. Throws with
 * the reason when it is neither, or not an Ed25519 key.
 */
export function parseVendorPublicKey(text: string): VendorKey {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey({ key: trimmed.replace(/\\n/g, '\n'), format: 'pem' })
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  } catch (error) {
    throw new Error(`not a PEM or base64 SPKI public key (${(error as Error).message})`);
  }
  requireEd25519(key, 'the vendor public key');
  return { key, keyId: vendorKeyId(key) };
}

/** Reads a PEM (PKCS#8) Ed25519 private key, as written by `licence-tool keygen`. */
export function parseVendorPrivateKey(pem: string): KeyObject {
  return requireEd25519(createPrivateKey({ key: pem, format: 'pem' }), 'the signing key');
}

/** Signs a licence document: the vendor side. The document is validated first; nothing invalid is signed. */
export function signLicence(document: LicenceDocument, privateKey: KeyObject): SignedLicence {
  const valid = licenceDocumentSchema.parse(document);
  requireEd25519(privateKey, 'the signing key');
  const signature = sign(null, Buffer.from(canonicalJson(valid), 'utf8'), privateKey);
  return {
    document: valid as unknown as Record<string, unknown>,
    signature: signature.toString('base64'),
    keyId: vendorKeyId(createPublicKey(privateKey)),
  };
}

export type LicenceRefusalReason = 'malformed' | 'wrong_vendor_key' | 'tampered' | 'expired';

export interface VerifiedLicence {
  document: LicenceDocument;
  /** The exact text the signature covers (stored verbatim, so it can be verified again). */
  canonical: string;
  signature: string;
  keyId: string;
}

export type LicenceVerification =
  | { ok: true; licence: VerifiedLicence }
  | {
      ok: false;
      reason: LicenceRefusalReason;
      message: string;
      field?: string;
      problems?: Array<{ path: string; message: string }>;
    };

/** Base64 of exactly 64 bytes, in the one spelling `Buffer.toString('base64')` writes. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/** When the licence stops working altogether: expiry plus the grace period. */
export function graceEnd(document: Pick<LicenceDocument, 'expiresAt' | 'graceDays'>): Date {
  return new Date(Date.parse(document.expiresAt) + document.graceDays * DAY_MS);
}

/** A signed licence as one of the two verifications reads it. */
interface SignedText {
  /**
   * The stored canonical text (verified byte for byte, then read as JSON), or the document as
   * received at import (the signature covers its canonical JSON).
   */
  document: string | Record<string, unknown>;
  signature: string;
  keyId: string;
}

/**
 * Which step of `verifySigned` a signed licence failed. `unreadable`: the imported document has no
 * canonical JSON, or the stored text is not JSON. `document` problems carry paths from the licence
 * (`document.format`).
 */
type SignedFailure =
  | { step: 'vendor_key' }
  | { step: 'signature_form' }
  | { step: 'unreadable'; error: string }
  | { step: 'signature' }
  | { step: 'document'; problems: Array<{ path: string; message: string }> };

const REASON_OF_STEP: Record<SignedFailure['step'], Exclude<LicenceRefusalReason, 'expired'>> = {
  vendor_key: 'wrong_vendor_key',
  signature_form: 'malformed',
  unreadable: 'malformed',
  signature: 'tampered',
  document: 'malformed',
};

/**
 * The integrity check both an import and every later use of a stored licence rely on: the vendor
 * key, the signature's form, the signature over the canonical text, and that the signed text is a
 * licence document. It says which step failed and leaves the wording to its caller, who knows who
 * reads it.
 */
function verifySigned(
  signed: SignedText,
  trusted: VendorKey,
): { ok: true; document: LicenceDocument; canonical: string } | { ok: false; failure: SignedFailure } {
  if (signed.keyId !== trusted.keyId) return { ok: false, failure: { step: 'vendor_key' } };
  if (!SIGNATURE_PATTERN.test(signed.signature)) return { ok: false, failure: { step: 'signature_form' } };
  const { document } = signed;
  let canonical: string;
  try {
    canonical = typeof document === 'string' ? document : canonicalJson(document);
  } catch (error) {
    return { ok: false, failure: { step: 'unreadable', error: (error as Error).message } };
  }
  if (!signatureMatches(canonical, signed.signature, trusted)) return { ok: false, failure: { step: 'signature' } };
  // Stored text is read as JSON only once its signature holds: a changed byte reads as tampering.
  let value: unknown = document;
  if (typeof document === 'string') {
    try {
      value = JSON.parse(document);
    } catch (error) {
      return { ok: false, failure: { step: 'unreadable', error: (error as Error).message } };
    }
  }
  const parsed = licenceDocumentSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      path: ['document', ...issue.path.map(String)].join('.'),
      message: issue.message,
    }));
    return { ok: false, failure: { step: 'document', problems } };
  }
  return { ok: true, document: parsed.data, canonical };
}

function signatureMatches(text: string, signature: string, trusted: VendorKey): boolean {
  return verify(null, Buffer.from(text, 'utf8'), trusted.key, Buffer.from(signature, 'base64'));
}

type LicenceRefusal = Extract<LicenceVerification, { ok: false }>;

/** An import's refusal: addressed to the operator importing the file, naming the field to look at. */
function importRefusal(failure: SignedFailure, keyId: string, trusted: VendorKey): LicenceRefusal {
  const reason = REASON_OF_STEP[failure.step];
  switch (failure.step) {
    case 'vendor_key':
      return {
        ok: false,
        reason,
        message: `wrong vendor key: the licence names vendor key ${JSON.stringify(keyId)}, but this service trusts only vendor key ${trusted.keyId}`,
        field: 'keyId',
      };
    case 'signature_form':
      return {
        ok: false,
        reason,
        message: 'malformed licence: signature must be the base64 of a 64-byte Ed25519 signature',
        field: 'signature',
      };
    case 'unreadable':
      return { ok: false, reason, message: `malformed licence: ${failure.error}`, field: 'document' };
    case 'signature':
      return {
        ok: false,
        reason,
        message: `tampered licence: the signature of vendor key ${trusted.keyId} does not match the document; it was changed after it was signed`,
        field: 'signature',
      };
    case 'document': {
      const { problems } = failure;
      return {
        ok: false,
        reason,
        message: `malformed licence: the signed document is not a licence this service can read: ${problems
          .map((p) => `${p.path}: ${p.message}`)
          .join('; ')}`,
        ...(problems[0] ? { field: problems[0].path } : {}),
        problems,
      };
    }
  }
}

/**
 * Verifies a signed licence for import: its shape, the vendor key, the signature over the canonical
 * JSON of the document, the document's format, and that its grace period has not ended at `now`.
 * Any changed byte fails one of these; the refusal says which, in words an operator can act on.
 */
export function verifyLicence(input: unknown, trusted: VendorKey, now: Date): LicenceVerification {
  const envelope = signedLicenceSchema.safeParse(input);
  if (!envelope.success) {
    const problems = envelope.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
    }));
    return {
      ok: false,
      reason: 'malformed',
      message: `malformed licence: expected {document, signature, keyId}: ${problems
        .map((p) => `${p.path || '(licence)'}: ${p.message}`)
        .join('; ')}`,
      ...(problems[0]?.path ? { field: problems[0].path } : {}),
      problems,
    };
  }
  const { signature, keyId } = envelope.data;
  const verified = verifySigned(envelope.data, trusted);
  if (!verified.ok) return importRefusal(verified.failure, keyId, trusted);
  const { document: licence, canonical } = verified;
  const ends = graceEnd(licence);
  if (ends.getTime() <= now.getTime()) {
    return {
      ok: false,
      reason: 'expired',
      message: `expired licence: licence ${licence.serial} expired on ${licence.expiresAt} and its ${licence.graceDays}-day grace period ended on ${ends.toISOString()}`,
      field: 'document.expiresAt',
    };
  }
  return { ok: true, licence: { document: licence, canonical, signature, keyId } };
}

/** A licence as the licensing service stores it: the signed canonical text, verbatim. */
export interface StoredSignedLicence {
  document: string;
  signature: string;
  keyId: string;
}

export type StoredLicenceVerification =
  | { ok: true; document: LicenceDocument }
  | { ok: false; reason: Exclude<LicenceRefusalReason, 'expired'>; problem: string };

/**
 * Why a stored licence does not verify, completing "the stored licence ... does not verify: ". Its
 * reader is whoever finds the licence not in force, long after the import.
 */
function storedProblem(failure: SignedFailure, keyId: string, trusted: VendorKey): string {
  switch (failure.step) {
    case 'vendor_key':
      return `it names vendor key ${JSON.stringify(keyId)}, but this service trusts only vendor key ${trusted.keyId}`;
    case 'signature_form':
      return 'its signature is not the base64 of a 64-byte Ed25519 signature';
    case 'unreadable':
      return `its document is not JSON (${failure.error})`;
    case 'signature':
      return `the signature of vendor key ${trusted.keyId} does not match its document; the document was changed after it was signed`;
    case 'document':
      return `its signed document is not a licence this service can read: ${failure.problems
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ')}`;
  }
}

/**
 * Verifies a stored licence again, as it is loaded: the signature of the trusted vendor key over
 * the stored text, byte for byte, and that the text is a licence document. Unlike an import, an
 * expired licence verifies (expiry and grace are the licence's status, not its integrity).
 * `problem` completes "the stored licence ... does not verify: ".
 */
export function verifyStoredLicence(stored: StoredSignedLicence, trusted: VendorKey): StoredLicenceVerification {
  const verified = verifySigned(stored, trusted);
  if (verified.ok) return { ok: true, document: verified.document };
  const { failure } = verified;
  return { ok: false, reason: REASON_OF_STEP[failure.step], problem: storedProblem(failure, stored.keyId, trusted) };
}
