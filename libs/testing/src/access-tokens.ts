import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { accessTokenClaimsSchema, type AccessTokenClaimsInput } from '@mlr/contracts';
import { readJson, writeJson } from './infra/process.js';

/** The development token issuer of a local infrastructure: its Ed25519 key pair and names. */
export interface LocalTokenIssuer {
  issuer: string;
  audience: string;
  publicKeyPem: string;
  /** Development only: tests, the demo and benchmarks sign their tokens with it. */
  privateKeyPem: string;
}

export const LOCAL_TOKEN_ISSUER = 'mlr-local-dev';
export const LOCAL_TOKEN_AUDIENCE = 'mlr-api';

/** The issuer of the infrastructure in `dir`: created once, then the same keys on every start. */
export function localTokenIssuer(dir: string): LocalTokenIssuer {
  const file = join(dir, 'token-issuer.json');
  const existing = readJson<LocalTokenIssuer>(file);
  if (existing) return existing;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const issuer: LocalTokenIssuer = {
    issuer: LOCAL_TOKEN_ISSUER,
    audience: LOCAL_TOKEN_AUDIENCE,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  writeJson(file, issuer);
  // For `npm run token -- sign --key <dir>/token-private.pem ...` against the local gateway.
  writeFileSync(join(dir, 'token-private.pem'), issuer.privateKeyPem, { mode: 0o600 });
  return issuer;
}

/** The gateway's settings to verify the local issuer's tokens. */
export function tokenVerificationEnv(issuer: LocalTokenIssuer): Record<string, string> {
  return {
    AUTH_JWT_PUBLIC_KEY: issuer.publicKeyPem,
    AUTH_JWT_ISSUER: issuer.issuer,
    AUTH_JWT_AUDIENCE: issuer.audience,
  };
}

/**
 * A signed access token of the local issuer for the gateway: `claims` are checked against the
 * token contract first, so a test cannot sign a token the gateway would refuse by mistake.
 * `overrides` change registered claims, to make deliberately bad tokens (expired, other audience).
 */
export async function mintAccessToken(
  issuer: LocalTokenIssuer,
  claims: AccessTokenClaimsInput,
  overrides: { ttlSeconds?: number; issuer?: string; audience?: string; expiresAt?: number } = {},
): Promise<string> {
  const checked = accessTokenClaimsSchema.parse(claims);
  const key = await importPKCS8(issuer.privateKeyPem, 'EdDSA');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    role: checked.role,
    mailboxes: checked.mailboxes,
    ...(checked.tenant ? { tenant: checked.tenant } : {}),
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setSubject(checked.sub)
    .setIssuer(overrides.issuer ?? issuer.issuer)
    .setAudience(overrides.audience ?? issuer.audience)
    .setIssuedAt(now)
    .setExpirationTime(overrides.expiresAt ?? now + (overrides.ttlSeconds ?? 3_600))
    .sign(key);
}
