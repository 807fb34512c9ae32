import { createAccount, createUser } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { connectorPermissions } from '@mlr/contracts';
import { ConnectorJwtIssuer, decodeUserJwt, parseConnectorSigningKey, SigningKeyError } from './connector-jwt.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('connector user JWTs', () => {
  const account = createAccount();
  const signingKey = createAccount();
  const issuer = new ConnectorJwtIssuer({
    accountPublicKey: account.getPublicKey(),
    signingSeed: text(signingKey.getSeed()),
  });

  it("carry the connector's own public key and exactly its tenant's permissions", async () => {
    const user = createUser();
    const jwt = await issuer.mint({ tenantId: 'acme', connectorId: 'imap-1', userPublicKey: user.getPublicKey() });
    const claims = decodeUserJwt(jwt);
    const expected = connectorPermissions('acme', 'imap-1');
    expect(claims.sub).toBe(user.getPublicKey());
    expect(claims.name).toBe('connector-acme-imap-1');
    expect(claims.iss).toBe(signingKey.getPublicKey());
    expect(claims.nats.issuer_account).toBe(account.getPublicKey());
    expect(claims.nats.type).toBe('user');
    expect(claims.nats.pub).toEqual({ allow: expected.publish });
    expect(claims.nats.sub).toEqual({ allow: expected.subscribe });
    expect(claims.nats.tags).toEqual(['tenant:acme', 'connector:imap-1']);
    expect(claims.exp).toBeUndefined();
  });

  it('allow nothing of another tenant and nothing of the services', async () => {
    const jwt = await issuer.mint({
      tenantId: 'acme',
      connectorId: 'imap-1',
      userPublicKey: createUser().getPublicKey(),
    });
    const { pub, sub } = decodeUserJwt(jwt).nats;
    for (const subject of [...(pub?.allow ?? []), ...(sub?.allow ?? [])]) {
      expect(subject).not.toMatch(/^mlr\.(?!acme\.)/);
      expect(subject).not.toMatch(/^mlr\.svc/);
      expect(subject).not.toMatch(/^(>|\*)/);
      expect(subject).not.toMatch(/globex/);
    }
    expect(sub?.allow).toContain('_INBOX_acme.>');
    expect(sub?.allow).not.toContain('_INBOX.>');
    expect(pub?.deny).toBeUndefined();
  });

  it('contain no seed: the secret half of the key never travels', async () => {
    const user = createUser();
    const jwt = await issuer.mint({ tenantId: 'acme', connectorId: 'imap-1', userPublicKey: user.getPublicKey() });
    const payload = Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8');
    expect(payload).not.toContain(text(user.getSeed()));
    expect(payload).not.toContain(text(signingKey.getSeed()));
  });

  it('may be signed with the account identity key itself (no issuer_account then)', async () => {
    const identity = new ConnectorJwtIssuer({
      accountPublicKey: account.getPublicKey(),
      signingSeed: text(account.getSeed()),
    });
    const claims = decodeUserJwt(
      await identity.mint({ tenantId: 'acme', connectorId: 'imap-1', userPublicKey: createUser().getPublicKey() }),
    );
    expect(claims.iss).toBe(account.getPublicKey());
    expect(claims.nats.issuer_account).toBeUndefined();
  });

  it('refuse a misconfigured signing key, saying which secret is wrong', () => {
    expect(() =>
      parseConnectorSigningKey({ accountPublicKey: createUser().getPublicKey(), signingSeed: text(account.getSeed()) }),
    ).toThrow(/account public key must be an account key/);
    expect(() =>
      parseConnectorSigningKey({ accountPublicKey: 'not-a-key', signingSeed: text(account.getSeed()) }),
    ).toThrow(SigningKeyError);
    expect(() =>
      parseConnectorSigningKey({ accountPublicKey: account.getPublicKey(), signingSeed: text(createUser().getSeed()) }),
    ).toThrow(/must be an account signing key seed/);
    expect(() => parseConnectorSigningKey({ accountPublicKey: account.getPublicKey(), signingSeed: 'SAnope' })).toThrow(
      /signing seed is not an NKey seed/,
    );
  });
});
