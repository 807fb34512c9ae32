import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Algorithms, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createUser } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsTransportOptions } from './bootstrap.js';
import { natsAuthOptions } from '@mlr/messaging';
import { NatsCredentialsError, natsCredentials } from './nats-credentials.js';

describe('NATS credentials of a service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-nats-creds-'));
  const credsFile = join(dir, 'services.creds');
  const user = createUser();
  let jwt: string;

  beforeAll(async () => {
    jwt = await encodeUser('svc', user, createAccount(), {}, { algorithm: Algorithms.v2 });
    writeFileSync(credsFile, fmtCreds(jwt, user), { mode: 0o600 });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a creds file and signs the server nonce with its seed, for JetStream and the Nest transport', () => {
    const credentials = natsCredentials({ NATS_CREDS: credsFile });
    expect(credentials?.kind).toBe('creds');
    const options = natsTransportOptions(
      {
        NATS_URL: 'nats://127.0.0.1:4222',
        NATS_CREDS: credsFile,
        HTTP_PORT: 0,
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      },
      'mlr-test',
    );
    expect(options).toMatchObject({ servers: ['nats://127.0.0.1:4222'], name: 'mlr-test' });
    expect(options).not.toHaveProperty('user');
    const auth = (
      options as { authenticator: (nonce?: string) => { jwt: string; nkey: string; sig: string } }
    ).authenticator('nonce');
    expect(auth.jwt).toBe(jwt);
    expect(auth.nkey).toBe(user.getPublicKey());
    // The signature travels base64url-encoded.
    expect(user.verify(new TextEncoder().encode('nonce'), Buffer.from(auth.sig, 'base64url'))).toBe(true);
  });

  it('keeps user and password', () => {
    const credentials = natsCredentials({ NATS_USER: 'svc', NATS_PASSWORD: 'secret' });
    expect(credentials).toEqual({ kind: 'userPassword', user: 'svc', password: 'secret' });
    expect(natsAuthOptions(credentials)).toEqual({ user: 'svc', pass: 'secret' });
  });

  it('connects without credentials when none are configured', () => {
    expect(natsCredentials({})).toBeUndefined();
    expect(natsAuthOptions(undefined)).toEqual({});
  });

  it('fails naming the file when the creds file is missing or unreadable', () => {
    const missing = join(dir, 'missing.creds');
    expect(() => natsCredentials({ NATS_CREDS: missing })).toThrow(
      new RegExp(`NATS_CREDS: cannot read the NATS creds file ${missing}: .*ENOENT`),
    );
    const unreadable = join(dir, 'unreadable.creds');
    writeFileSync(unreadable, 'x');
    chmodSync(unreadable, 0o000);
    // root reads every file: then the content check below applies instead.
    expect(() => natsCredentials({ NATS_CREDS: unreadable })).toThrow(new RegExp(`NATS_CREDS: .*${unreadable}`));
  });

  it('fails naming the file when it is not a creds file', () => {
    const broken = join(dir, 'broken.creds');
    writeFileSync(broken, 'user=svc\npassword=secret\n');
    expect(() => natsCredentials({ NATS_CREDS: broken })).toThrow(NatsCredentialsError);
    expect(() => natsCredentials({ NATS_CREDS: broken })).toThrow(
      `NATS_CREDS: ${broken} is not a NATS creds file (a user JWT and an NKey seed)`,
    );
  });

  it('refuses a creds file together with a password, and a user without a password', () => {
    expect(() => natsCredentials({ NATS_CREDS: credsFile, NATS_USER: 'svc', NATS_PASSWORD: 'x' })).toThrow(/not both/);
    expect(() => natsCredentials({ NATS_USER: 'svc' })).toThrow(/NATS_PASSWORD is required with NATS_USER/);
  });
});
