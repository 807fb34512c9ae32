import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../apps/gateway/src/auth/token-verifier.js';
import { run, ttlSeconds } from './token-tool.js';

async function tool(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += t), err: (t) => (err += t), now: () => new Date() });
  return { code, out, err };
}

describe('token tool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'token-tool-'));
  const ed = join(dir, 'ed');
  const ec = join(dir, 'ec');

  it('makes key pairs (private key for its owner only), prints the gateway settings, never overwrites', async () => {
    const made = await tool('keygen', '--out', ed);
    expect(made.code).toBe(0);
    expect(statSync(join(ed, 'token-private.pem')).mode & 0o777).toBe(0o600);
    expect(made.out).toMatch(/^AUTH_JWT_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----\\n.+\\n-----END PUBLIC KEY-----"$/m);
    expect(made.out).toMatch(/^AUTH_JWT_ISSUER=mlr-local-dev$/m);
    expect((await tool('keygen', '--out', ec, '--alg', 'ES256')).code).toBe(0);
    const again = await tool('keygen', '--out', ed);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/exists already/);
    expect((await tool('keygen', '--out', join(dir, 'rsa'), '--alg', 'RS256')).err).toMatch(
      /--alg must be EdDSA or ES256/,
    );
  });

  it('signs tokens the gateway accepts, with EdDSA or ES256', async () => {
    for (const [keys, alg] of [
      [ed, 'EdDSA'],
      [ec, 'ES256'],
    ] as const) {
      const signed = await tool(
        'sign',
        '--key',
        join(keys, 'token-private.pem'),
        '--sub',
        'alice@acme.test',
        '--role',
        'user',
        '--tenant',
        'acme',
        '--mailboxes',
        'Alice@acme.test, shared@acme.test',
        '--ttl',
        '8h',
      );
      expect(signed.code, signed.err).toBe(0);
      const token = signed.out.trim();
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      const claims = decodeJwt(token);
      expect(claims.exp! - claims.iat!).toBe(8 * 3_600);
      const verifier = await TokenVerifier.create({
        publicKey: readFileSync(join(keys, 'token-public.pem'), 'utf8'),
        issuer: 'mlr-local-dev',
        audience: 'mlr-api',
        clockToleranceSeconds: 0,
      });
      expect(await verifier.verify(token)).toEqual({
        sub: 'alice@acme.test',
        role: 'user',
        tenant: 'acme',
        mailboxes: ['alice@acme.test', 'shared@acme.test'],
      });
      const verified = await tool('verify', '--public-key', join(keys, 'token-public.pem'), token);
      expect(verified.code).toBe(0);
      expect(JSON.parse(verified.out)).toMatchObject({ role: 'user', tenant: 'acme' });
    }
  });

  it('refuses claims the gateway would refuse, naming the option', async () => {
    const key = join(ed, 'token-private.pem');
    const noTenant = await tool('sign', '--key', key, '--sub', 'a', '--role', 'tenant_admin');
    expect(noTenant.code).toBe(2);
    expect(noTenant.err).toMatch(/--tenant: is required for the role tenant_admin/);
    expect((await tool('sign', '--key', key, '--sub', 'a', '--role', 'root')).err).toMatch(/--role: must be one of/);
    expect((await tool('sign', '--key', key, '--role', 'operator')).err).toMatch(/--sub: is required/);
    expect((await tool('sign', '--key', key, '--sub', 'a', '--role', 'operator', '--ttl', 'forever')).err).toMatch(
      /--ttl must be a number with s, m, h or d/,
    );
  });

  it('reports a token signed with another key as refused, with the reason', async () => {
    const signed = await tool('sign', '--key', join(ec, 'token-private.pem'), '--sub', 'ops', '--role', 'operator');
    const verified = await tool('verify', '--public-key', join(ed, 'token-public.pem'), signed.out.trim());
    expect(verified.code).toBe(1);
    expect(verified.err).toBe('token: refused: the token is signed with an algorithm that is not accepted\n');
  });

  it('reads durations', () => {
    expect(ttlSeconds('30m')).toBe(1_800);
    expect(ttlSeconds('7d')).toBe(604_800);
    expect(() => ttlSeconds('0h')).toThrow(/longer than 0/);
    expect(() => ttlSeconds('400d')).toThrow(/at most a year/);
  });
});
