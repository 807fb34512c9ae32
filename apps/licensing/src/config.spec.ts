import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { afterAll, describe, expect, it } from 'vitest';
import { licensingConfigSchema } from './config.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const base = { NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'postgresql://mlr@localhost/mlr' };

describe('licensing configuration: NATS credentials and revocation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-licensing-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const account = createAccount();
  const signing = createAccount();
  const accountKeys = {
    LICENSING_NATS_ACCOUNT_PUBLIC_KEY: account.getPublicKey(),
    LICENSING_NATS_ACCOUNT_SIGNING_SEED: text(signing.getSeed()),
  };
  const credsFile = join(dir, 'system.creds');
  writeFileSync(credsFile, fmtCreds('eyJ0eXAiOiJKV1QifQ.e30.sig', createUser()));
  const revocation = {
    LICENSING_NATS_OPERATOR_SIGNING_SEED: text(createOperator().getSeed()),
    LICENSING_NATS_SYSTEM_CREDS: credsFile,
  };
  const problems = (env: Record<string, string>) => {
    const result = licensingConfigSchema.safeParse({ ...base, ...env });
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('accepts the account signing key with or without the revocation settings', () => {
    expect(problems(accountKeys)).toEqual([]);
    expect(problems({ ...accountKeys, ...revocation })).toEqual([]);
    expect(problems({})).toEqual([]);
  });

  it('wants both revocation settings, and the account they apply to', () => {
    expect(problems({ ...accountKeys, LICENSING_NATS_SYSTEM_CREDS: credsFile })).toEqual([
      expect.stringMatching(/^LICENSING_NATS_OPERATOR_SIGNING_SEED: is required together/),
    ]);
    expect(problems(revocation)).toEqual([
      expect.stringMatching(/^LICENSING_NATS_ACCOUNT_PUBLIC_KEY: is required for NATS revocation/),
    ]);
  });

  it('names what is wrong with the operator seed or the creds file', () => {
    expect(
      problems({ ...accountKeys, ...revocation, LICENSING_NATS_OPERATOR_SIGNING_SEED: text(signing.getSeed()) }),
    ).toEqual([expect.stringMatching(/^LICENSING_NATS_OPERATOR_SIGNING_SEED: .*starts with "SO"/)]);
    const missing = join(dir, 'nope.creds');
    expect(problems({ ...accountKeys, ...revocation, LICENSING_NATS_SYSTEM_CREDS: missing })).toEqual([
      expect.stringContaining(`LICENSING_NATS_SYSTEM_CREDS: cannot read the system account creds file ${missing}`),
    ]);
  });
});
