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
  const { document, signature, keyId } = envelope.data;
  if (keyId !== trusted.keyId) {
    return {
      ok: false,
      reason: 'wrong_vendor_key',
      message: `wrong vendor key: the licence names vendor key ${JSON.stringify(keyId)}, but this service trusts only vendor key ${trusted.keyId}`,
      field: 'keyId',
    };
  }
  if (!SIGNATURE_PATTERN.test(signature)) {
    return {
      ok: false,
      reason: 'malformed',
      message: 'malformed licence: signature must be the base64 of a 64-byte Ed25519 signature',
      field: 'signature',
    };
  }
  let canonical: string;
  try {
    canonical = canonicalJson(document);
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed',
      message: `malformed licence: ${(error as Error).message}`,
      field: 'document',
    };
  }
  if (!signatureMatches(canonical, signature, trusted)) {
    return {
      ok: false,
      reason: 'tampered',
      message: `tampered licence: the signature of vendor key ${trusted.keyId} does not match the document; it was changed after it was signed`,
      field: 'signature',
    };
  }
  const parsed = licenceDocumentSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      path: ['document', ...issue.path.map(String)].join('.'),
      message: issue.message,
    }));
    return {
      ok: false,
      reason: 'malformed',
      message: `malformed licence: the signed document is not a licence this service can read: ${problems
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ')}`,
      ...(problems[0] ? { field: problems[0].path } : {}),
      problems,
    };
  }
  const licence = parsed.data;
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

function signatureMatches(text: string, signature: string, trusted: VendorKey): boolean {
  return verify(null, Buffer.from(text, 'utf8'), trusted.key, Buffer.from(signature, 'base64'));
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
 * Verifies a stored licence again, as it is loaded: the signature of the trusted vendor key over
 * the stored text, byte for byte, and that the text is a licence document. Unlike an import, an
 * expired licence verifies (expiry and grace are the licence's status, not its integrity).
 * `problem` completes "the stored licence ... does not verify: ".
 */
export function verifyStoredLicence(stored: StoredSignedLicence, trusted: VendorKey): StoredLicenceVerification {
  if (stored.keyId !== trusted.keyId) {
    return {
      ok: false,
      reason: 'wrong_vendor_key',
      problem: `it names vendor key ${JSON.stringify(stored.keyId)}, but this service trusts only vendor key ${trusted.keyId}`,
    };
  }
  if (!SIGNATURE_PATTERN.test(stored.signature)) {
    return {
      ok: false,
      reason: 'malformed',
      problem: 'its signature is not the base64 of a 64-byte Ed25519 signature',
    };
  }
  if (!signatureMatches(stored.document, stored.signature, trusted)) {
    return {
      ok: false,
      reason: 'tampered',
      problem: `the signature of vendor key ${trusted.keyId} does not match its document; the document was changed after it was signed`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(stored.document);
  } catch (error) {
    return { ok: false, reason: 'malformed', problem: `its document is not JSON (${(error as Error).message})` };
  }
  const parsed = licenceDocumentSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${['document', ...issue.path.map(String)].join('.')}: ${issue.message}`,
    );
    return {
      ok: false,
      reason: 'malformed',
      problem: `its signed document is not a licence this service can read: ${problems.join('; ')}`,
    };
  }
  return { ok: true, document: parsed.data };
}
