import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@mlr/config';
import { gatewayConfigSchema } from '../config.js';
import { algorithmOfPublicKey, TokenRejected, TokenVerifier } from './token-verifier.js';

const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'mlr-api';

const ed25519 = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const otherEd25519 = generateKeyPairSync('ed25519');

const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const now = () => Math.floor(Date.now() / 1000);

interface SignOptions {
  key?: KeyObject;
  alg?: 'EdDSA' | 'ES256';
  kid?: string;
  issuer?: string;
  audience?: string;
  exp?: number | null;
  sub?: string | null;
}

function sign(claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'EdDSA', ...(options.kid ? { kid: options.kid } : {}) })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt();
  if (options.sub !== null) jwt.setSubject(options.sub ?? 'alice@acme.example');
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 600);
  return jwt.sign(options.key ?? ed25519.privateKey);
}

const user = { role: 'user', tenant: 'acme', mailboxes: ['alice@acme.example'] };

async function verifier(publicKey = pem(ed25519.publicKey)): Promise<TokenVerifier> {
  return TokenVerifier.create({ publicKey, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5 });
}

async function rejection(token: string, tokens?: TokenVerifier): Promise<string> {
  try {
    await (tokens ?? (await verifier())).verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenRejected);
    return (error as Error).message;
  }
  throw new Error('the token was expected to be refused');
}

describe('TokenVerifier', () => {
  it('accepts an Ed25519 token and returns its principal (mailboxes in lower case, once each)', async () => {
    const token = await sign({
      ...user,
      mailboxes: ['Alice@Acme.example', 'shared@acme.example', 'alice@acme.example'],
    });
    expect(await (await verifier()).verify(token)).toEqual({
      sub: 'alice@acme.example',
      role: 'user',
      tenant: 'acme',
      mailboxes: ['alice@acme.example', 'shared@acme.example'],
    });
  });

  it('accepts a P-256 (ES256) token, and an operator without tenant or mailboxes', async () => {
    const token = await sign({ role: 'operator' }, { key: p256.privateKey, alg: 'ES256', sub: 'ops@msp' });
    expect(await (await verifier(pem(p256.publicKey))).verify(token)).toEqual({
      sub: 'ops@msp',
      role: 'operator',
      tenant: null,
      mailboxes: [],
    });
  });

  it('accepts a PEM given on one line with \\n escapes', async () => {
    const oneLine = pem(ed25519.publicKey).replace(/\n/g, '\\n');
    expect((await (await verifier(oneLine)).verify(await sign(user))).role).toBe('user');
  });

  it('verifies with a JWKS document, choosing the key by kid', async () => {
    const jwks = JSON.stringify({
      keys: [
        { ...(await exportJWK(otherEd25519.publicKey)), kid: 'old', alg: 'EdDSA' },
        { ...(await exportJWK(ed25519.publicKey)), kid: 'current', alg: 'EdDSA' },
      ],
    });
    const tokens = await verifier(jwks);
    expect((await tokens.verify(await sign(user, { kid: 'current' }))).sub).toBe('alice@acme.example');
    expect(await rejection(await sign(user, { kid: 'gone' }), tokens)).toBe(
      'no key of the issuer verifies the token signature',
    );
  });

  it('refuses an expired token', async () => {
    expect(await rejection(await sign(user, { exp: now() - 60 }))).toBe('the token has expired');
  });

  it('remembers a verified token until its expiry at most, and never a refused one', async () => {
    let clock = Date.now();
    const tokens = await TokenVerifier.create({
      publicKey: pem(ed25519.publicKey),
      issuer: ISSUER,
      audience: AUDIENCE,
      clockToleranceSeconds: 5,
      verifiedTokenTtlMs: 60_000,
      now: () => clock,
    });
    const exp = Math.floor(clock / 1000) + 30;
    const token = await sign(user, { exp });
    const first = await tokens.verify(token);
    expect(tokens.remembered).toBe(1);
    first.mailboxes.push('mallory@acme.example'); // a caller changing what it got changes nothing
    expect(await tokens.verify(token)).toEqual({ ...first, mailboxes: ['alice@acme.example'] });

    // Past its expiry (and the tolerance) it is refused, although remembered for a minute.
    clock = (exp + 6) * 1000;
    expect(await rejection(token, tokens)).toBe('the token has expired');
    expect(tokens.remembered).toBe(0);
    expect(await rejection(await sign(user, { key: otherEd25519.privateKey }), tokens)).toMatch(/signature/);
    expect(tokens.remembered).toBe(0);
  });

  it('refuses a token without expiry', async () => {
    expect(await rejection(await sign(user, { exp: null }))).toBe('the token has no expiry (exp); tokens must expire');
  });

  it('refuses a token signed with another key', async () => {
    expect(await rejection(await sign(user, { key: otherEd25519.privateKey }))).toBe(
      'the token signature is not valid',
    );
  });

  it('refuses a token of another issuer or for another audience', async () => {
    expect(await rejection(await sign(user, { issuer: 'https://evil.example' }))).toBe(
      'the token was issued by another issuer',
    );
    expect(await rejection(await sign(user, { audience: 'another-api' }))).toBe(
      'the token is meant for another audience',
    );
  });

  it('refuses unsigned tokens and algorithms other than the key’s', async () => {
    const unsigned = new UnsecuredJWT({ ...user, sub: 'x' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .encode();
    expect(await rejection(unsigned)).toMatch(/algorithm that is not accepted|malformed/);
    const es256 = await sign(user, { key: p256.privateKey, alg: 'ES256' });
    expect(await rejection(es256)).toBe('the token is signed with an algorithm that is not accepted');
  });

  it('refuses garbage', async () => {
    expect(await rejection('not-a-token')).toMatch(/^the token is malformed/);
  });

  it('refuses a user or tenant admin without tenant, and an operator with one', async () => {
    expect(await rejection(await sign({ role: 'user', mailboxes: ['a@b'] }))).toBe(
      "the token's claims are not valid: tenant: is required for the role user",
    );
    expect(await rejection(await sign({ role: 'tenant_admin' }))).toBe(
      "the token's claims are not valid: tenant: is required for the role tenant_admin",
    );
    expect(await rejection(await sign({ role: 'operator', tenant: 'acme' }))).toBe(
      "the token's claims are not valid: tenant: an operator belongs to no tenant",
    );
  });

  it('refuses an unknown role, a missing subject and a malformed tenant', async () => {
    expect(await rejection(await sign({ role: 'root', tenant: 'acme' }))).toMatch(
      /role: must be one of operator, tenant_admin, user/,
    );
    expect(await rejection(await sign(user, { sub: null }))).toMatch(/sub/);
    expect(await rejection(await sign({ ...user, tenant: 'Acme Corp' }))).toMatch(/tenant: tenant id must be/);
  });
});

describe('verification keys', () => {
  it('names the algorithm of a PEM key, and refuses other key types', () => {
    expect(algorithmOfPublicKey(pem(ed25519.publicKey))).toBe('EdDSA');
    expect(algorithmOfPublicKey(pem(p256.publicKey))).toBe('ES256');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => algorithmOfPublicKey(pem(rsa.publicKey))).toThrow(
      'a rsa key cannot verify tokens: use Ed25519 (EdDSA) or P-256 (ES256)',
    );
    expect(() => algorithmOfPublicKey('hello')).toThrow(/^not a PEM public key/);
  });

  describe('remote JWKS', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      const jwks = { keys: [{ ...(await exportJWK(ed25519.publicKey)), kid: 'k1', alg: 'EdDSA' }] };
      server = createServer((_request, response) => {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(jwks));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('verifies with keys fetched from AUTH_JWKS_URL', async () => {
      const tokens = await TokenVerifier.create({
        jwksUrl: url,
        issuer: ISSUER,
        audience: AUDIENCE,
        clockToleranceSeconds: 5,
      });
      expect((await tokens.verify(await sign(user, { kid: 'k1' }))).tenant).toBe('acme');
    });
  });
});

describe('gateway configuration', () => {
  const base = { NATS_URL: 'nats://127.0.0.1:4222', AUTH_JWT_ISSUER: ISSUER };

  it('takes a PEM key, the issuer and a default audience', () => {
    const config = loadConfig('gateway', gatewayConfigSchema, { ...base, AUTH_JWT_PUBLIC_KEY: pem(ed25519.publicKey) });
    expect(config.AUTH_JWT_AUDIENCE).toBe('mlr-api');
    expect(config.AUTH_CLOCK_TOLERANCE_SECONDS).toBe(30);
  });

  it('needs exactly one of a key and a JWKS URL, and an issuer', () => {
    expect(() => loadConfig('gateway', gatewayConfigSchema, { ...base })).toThrow(
      /AUTH_JWT_PUBLIC_KEY: give exactly one of AUTH_JWT_PUBLIC_KEY \(PEM or JWKS\) and AUTH_JWKS_URL/,
    );
    expect(() =>
      loadConfig('gateway', gatewayConfigSchema, {
        ...base,
        AUTH_JWT_PUBLIC_KEY: pem(ed25519.publicKey),
        AUTH_JWKS_URL: 'https://idp.example.com/jwks',
      }),
    ).toThrow(/give exactly one/);
    expect(() =>
      loadConfig('gateway', gatewayConfigSchema, {
        NATS_URL: base.NATS_URL,
        AUTH_JWT_PUBLIC_KEY: pem(ed25519.publicKey),
      }),
    ).toThrow(/AUTH_JWT_ISSUER: is required/);
  });

  it('refuses a key that cannot verify tokens, and a private key in a JWKS', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() =>
      loadConfig('gateway', gatewayConfigSchema, { ...base, AUTH_JWT_PUBLIC_KEY: pem(rsa.publicKey) }),
    ).toThrow(/AUTH_JWT_PUBLIC_KEY: a rsa key cannot verify tokens/);
    const privateJwk = await exportJWK(ed25519.privateKey);
    expect(() =>
      loadConfig('gateway', gatewayConfigSchema, {
        ...base,
        AUTH_JWT_PUBLIC_KEY: JSON.stringify({ keys: [privateJwk] }),
      }),
    ).toThrow(/JWKS key 0 is a private key/);
  });
});
