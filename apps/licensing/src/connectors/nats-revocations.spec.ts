import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Algorithms, decode, encodeAccount, fmtCreds, type Account } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromPublic } from '@nats-io/nkeys';
import { afterAll, describe, expect, it } from 'vitest';
import {
  accountWithRevocations,
  missingRevocations,
  parseOperatorSigningSeed,
  readSystemCreds,
  RevocationSettingsError,
} from './nats-revocations.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function accountClaims(revocations?: Record<string, number>) {
  const operator = createOperator();
  const account = createAccount();
  const signing = createAccount();
  const jwt = await encodeAccount(
    'MLR',
    fromPublic(account.getPublicKey()),
    {
      limits: { subs: -1, conn: -1, mem_storage: -1, disk_storage: -1 },
      signing_keys: [signing.getPublicKey()],
      ...(revocations ? { revocations } : {}),
    },
    { algorithm: Algorithms.v2, signer: operator },
  );
  return decode<Account>(jwt);
}

describe('account revocations', () => {
  it('adds the keys as of now and keeps everything else of the account', async () => {
    const old = createUser().getPublicKey();
    const claims = await accountClaims({ [old]: 1_700_000_000 });
    const key = createUser().getPublicKey();
    const account = accountWithRevocations(claims, [key], new Date('2026-11-24T12:00:00.500Z'));
    expect(account.revocations).toEqual({ [old]: 1_700_000_000, [key]: 1_795_521_600 });
    expect(account.signing_keys).toEqual(claims.nats.signing_keys);
    expect(account.limits).toEqual(claims.nats.limits);
    expect(account).not.toHaveProperty('type');
    expect(account).not.toHaveProperty('version');
  });

  it('keeps the first revocation date of a key revoked before', async () => {
    const key = createUser().getPublicKey();
    const claims = await accountClaims({ [key]: 1_700_000_000 });
    expect(accountWithRevocations(claims, [key], new Date()).revocations).toEqual({ [key]: 1_700_000_000 });
  });

  it('finds which keys the account does not revoke yet (each once)', async () => {
    const revoked = createUser().getPublicKey();
    const fresh = createUser().getPublicKey();
    const claims = await accountClaims({ [revoked]: 1_700_000_000 });
    expect(missingRevocations(claims, [revoked, fresh, fresh])).toEqual([fresh]);
    expect(missingRevocations(await accountClaims(), [fresh])).toEqual([fresh]);
  });
});

describe('revocation settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-revocation-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts an operator seed and refuses an account seed or garbage, saying why', () => {
    const operator = createOperator();
    expect(parseOperatorSigningSeed(text(operator.getSeed())).getPublicKey()).toBe(operator.getPublicKey());
    expect(() => parseOperatorSigningSeed(text(createAccount().getSeed()))).toThrow(/starts with "SO"/);
    expect(() => parseOperatorSigningSeed('not-a-seed')).toThrow(RevocationSettingsError);
  });

  it('reads a creds file and names the file when it is missing or not creds', () => {
    const user = createUser();
    const good = join(dir, 'sys.creds');
    writeFileSync(good, fmtCreds('eyJ0eXAiOiJKV1QifQ.e30.sig', user));
    expect(readSystemCreds(good)).toContain('BEGIN USER NKEY SEED');
    const bad = join(dir, 'bad.creds');
    writeFileSync(bad, 'user: sys\npassword: x\n');
    expect(() => readSystemCreds(bad)).toThrow(`${bad} is not a NATS creds file`);
    expect(() => readSystemCreds(join(dir, 'missing.creds'))).toThrow(/cannot read the system account creds file/);
  });
});
