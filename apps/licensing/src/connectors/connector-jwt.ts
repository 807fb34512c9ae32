import {
  Algorithms,
  decode,
  encodeUser,
  fromPublic,
  fromSeed,
  type ClaimsData,
  type KeyPair,
  type User,
} from '@nats-io/jwt';
import { connectorUserClaims, connectorUserName } from '@mlr/messaging';

/**
 * The account key that signs connector user JWTs: the platform account's public key (`A…`) and one
 * of its signing keys (a seed `SA…`), as nsc prints them. The account JWT the NATS server trusts
 * must list the signing key (or the seed may be the account's own identity seed).
 */
export interface ConnectorSigningKey {
  accountPublicKey: string;
  signingSeed: string;
}

export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

/** Checks the two secrets and returns the key pairs; errors say which secret is wrong and how. */
export function parseConnectorSigningKey(key: ConnectorSigningKey): { account: KeyPair; signer: KeyPair } {
  let account: KeyPair;
  try {
    account = fromPublic(key.accountPublicKey.trim());
  } catch (error) {
    throw new SigningKeyError(`account public key is not an NKey public key: ${(error as Error).message}`);
  }
  if (!account.getPublicKey().startsWith('A')) {
    throw new SigningKeyError('account public key must be an account key (it starts with "A")');
  }
  let signer: KeyPair;
  try {
    signer = fromSeed(new TextEncoder().encode(key.signingSeed.trim()));
  } catch (error) {
    throw new SigningKeyError(`signing seed is not an NKey seed: ${(error as Error).message}`);
  }
  if (!signer.getPublicKey().startsWith('A')) {
    throw new SigningKeyError('signing seed must be an account signing key seed (it starts with "SA")');
  }
  return { account, signer };
}

/** Mints connector user JWTs (no expiry: a connector runs for years; revocation is per user key). */
export class ConnectorJwtIssuer {
  private readonly account: KeyPair;
  private readonly signer: KeyPair;

  constructor(key: ConnectorSigningKey) {
    ({ account: this.account, signer: this.signer } = parseConnectorSigningKey(key));
  }

  get accountPublicKey(): string {
    return this.account.getPublicKey();
  }

  get signingPublicKey(): string {
    return this.signer.getPublicKey();
  }

  /** A user JWT for the connector's own public key (`U…`); the seed stays with the connector. */
  async mint(input: { tenantId: string; connectorId: string; userPublicKey: string }): Promise<string> {
    const user = fromPublic(input.userPublicKey);
    const name = connectorUserName(input.tenantId, input.connectorId);
    const claims = connectorUserClaims(input.tenantId, input.connectorId);
    const identity = this.signer.getPublicKey() === this.account.getPublicKey();
    // Signed by a signing key, the JWT names the account as `issuer_account`; by the identity key, it does not.
    return identity
      ? encodeUser(name, user, this.signer, claims, { algorithm: Algorithms.v2 })
      : encodeUser(name, user, this.account, claims, { algorithm: Algorithms.v2, signer: this.signer });
  }
}

/** Reads a user JWT's claims (no signature check: for tests and diagnostics). */
export function decodeUserJwt(jwt: string): ClaimsData<User> {
  return decode<User>(jwt);
}
