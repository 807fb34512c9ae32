import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { accessTokenClaimsSchema } from '@mlr/contracts';
import type { Principal } from './principal.js';

/** Signature algorithms the gateway accepts: Ed25519 and P-256 only (no HMAC, no RSA, never `none`). */
export const TOKEN_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

/** Why a token was not accepted; becomes the message of the 401. */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

export interface TokenVerifierOptions {
  /** The issuer's public key: PEM (SPKI, Ed25519 or P-256), or a JWKS document (`{"keys": [...]}`). */
  publicKey?: string | undefined;
  /** Where the issuer publishes its JWKS, instead of `publicKey`. */
  jwksUrl?: string | undefined;
  issuer: string;
  audience: string;
  /** Allowed clock difference between the issuer and the gateway. */
  clockToleranceSeconds: number;
  /**
   * How long a token verified once is taken again without checking its signature (never past its
   * expiry): a client sends the same token with every request, and an EdDSA verification is most of
   * the gateway's work for a search. Default VERIFIED_TOKEN_TTL_MS; 0 checks every time.
   */
  verifiedTokenTtlMs?: number;
  /** The clock (ms since the epoch); for tests. */
  now?: () => number;
}

/** See TokenVerifierOptions.verifiedTokenTtlMs: a key the issuer withdraws is honoured within this. */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Tokens remembered at most (the oldest are forgotten first). */
export const VERIFIED_TOKENS_MAX = 10_000;

/** A principal of its own for each request: a caller changing it changes nothing remembered. */
const copyOf = (principal: Principal): Principal => ({ ...principal, mailboxes: [...principal.mailboxes] });

/** Reads `\n` escapes as line breaks, so that a PEM fits one environment variable. */
const unescapePem = (text: string) => text.replace(/\\n/g, '\n').trim();

/** The algorithm a PEM public key signs with; refuses any other kind of key, naming it. */
export function algorithmOfPublicKey(pem: string): TokenAlgorithm {
  let key: KeyObject;
  try {
    key = createPublicKey(unescapePem(pem));
  } catch (error) {
    throw new Error(`not a PEM public key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new Error(
    `a ${key.asymmetricKeyType}${curve ? ` (${curve})` : ''} key cannot verify tokens: use Ed25519 (EdDSA) or P-256 (ES256)`,
  );
}

/** Checks that a configured key (PEM or JWKS) is usable, for configuration validation. */
export function checkVerificationKey(text: string): void {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    parseJwks(trimmed);
    return;
  }
  algorithmOfPublicKey(trimmed);
}

function parseJwks(text: string): JSONWebKeySet {
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch (error) {
    throw new Error(`not a JWKS: ${(error as Error).message}`);
  }
  const keys = (jwks as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('a JWKS needs a non-empty "keys" array');
  for (const [index, key] of keys.entries()) {
    const { kty, crv, d } = key as { kty?: string; crv?: string; d?: unknown };
    if (d !== undefined) throw new Error(`JWKS key ${index} is a private key: configure the public key only`);
    const supported = (kty === 'OKP' && crv === 'Ed25519') || (kty === 'EC' && crv === 'P-256');
    if (!supported) {
      throw new Error(`JWKS key ${index} (${kty ?? '?'} ${crv ?? ''}) is not Ed25519 (OKP) or P-256 (EC)`.trim());
    }
  }
  return jwks as JSONWebKeySet;
}

function explain(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return 'the token was issued by another issuer';
      case 'aud':
        return 'the token is meant for another audience';
      case 'exp':
        return 'the token has no expiry (exp); tokens must expire';
      case 'nbf':
        return 'the token is not valid yet';
      default:
        return `the token's "${error.claim}" claim is invalid: ${error.reason}`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer verifies the token signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return `the issuer's keys could not be loaded (${(error as Error).message})`;
  }
  if (error instanceof errors.JOSEError) return `the token is malformed (${error.message})`;
  return `the token could not be verified (${error instanceof Error ? error.message : String(error)})`;
}

type PublicKey = Awaited<ReturnType<typeof importSPKI>>;

/** Verifies bearer tokens: signature, issuer, audience and a required expiry, then the MLR claims. */
export class TokenVerifier {
  private constructor(
    private readonly key: JWTVerifyGetKey | PublicKey,
    private readonly algorithms: TokenAlgorithm[],
    private readonly options: TokenVerifierOptions,
  ) {}

  static async create(options: TokenVerifierOptions): Promise<TokenVerifier> {
    if ((options.publicKey === undefined) === (options.jwksUrl === undefined)) {
      throw new Error('give either a public key (PEM or JWKS) or a JWKS URL to verify tokens with');
    }
    if (options.jwksUrl !== undefined) {
      return new TokenVerifier(createRemoteJWKSet(new URL(options.jwksUrl)), [...TOKEN_ALGORITHMS], options);
    }
    const text = (options.publicKey ?? '').trim();
    if (text.startsWith('{')) {
      return new TokenVerifier(createLocalJWKSet(parseJwks(text)), [...TOKEN_ALGORITHMS], options);
    }
    const algorithm = algorithmOfPublicKey(text);
    return new TokenVerifier(await importSPKI(unescapePem(text), algorithm), [algorithm], options);
  }

  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  /** How many verified tokens are remembered now. */
  get remembered(): number {
    return this.verified.size;
  }

  async verify(token: string): Promise<Principal> {
    const now = this.options.now?.() ?? Date.now();
    const known = this.verified.get(token);
    if (known && known.until > now) return copyOf(known.principal);
    if (known) this.verified.delete(token);
    const { principal, expiresAt } = await this.check(token);
    const ttl = this.options.verifiedTokenTtlMs ?? VERIFIED_TOKEN_TTL_MS;
    if (ttl > 0) {
      if (this.verified.size >= VERIFIED_TOKENS_MAX) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      // Never past the expiry the signature vouched for (with the tolerance jwtVerify applies).
      const until = Math.min(now + ttl, expiresAt + this.options.clockToleranceSeconds * 1000);
      this.verified.set(token, { principal, until });
    }
    return copyOf(principal);
  }

  private async check(token: string): Promise<{ principal: Principal; expiresAt: number }> {
    let payload: Record<string, unknown>;
    try {
      const options = {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.options.clockToleranceSeconds,
        ...(this.options.now ? { currentDate: new Date(this.options.now()) } : {}),
      };
      const verified =
        typeof this.key === 'function'
          ? await jwtVerify(token, this.key, options)
          : await jwtVerify(token, this.key, options);
      payload = verified.payload;
    } catch (error) {
      throw new TokenRejected(explain(error));
    }
    const claims = accessTokenClaimsSchema.safeParse(payload);
    if (!claims.success) {
      const problems = claims.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
      throw new TokenRejected(`the token's claims are not valid: ${problems.join('; ')}`);
    }
    const { sub, role, tenant, mailboxes } = claims.data;
    return {
      principal: { sub, role, tenant: tenant ?? null, mailboxes: [...new Set(mailboxes)] },
      // requiredClaims makes exp present; jwtVerify has checked it is a number in the future.
      expiresAt: Number(payload['exp']) * 1000,
    };
  }
}
