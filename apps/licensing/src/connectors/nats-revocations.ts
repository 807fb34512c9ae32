import { readFileSync } from 'node:fs';
import { Algorithms, decode, encodeAccount, fromPublic, fromSeed, type Account, type ClaimsData } from '@nats-io/jwt';
import { connectMessaging, type MessagingConnection, type MessagingLogger } from '@mlr/messaging';

/**
 * Cutting a connector off NATS. A user JWT is valid by its signature alone, so the server stops
 * accepting it only when the account's JWT lists the user's public key among its `revocations`. The
 * account JWT is signed by the operator: licensing holds an operator signing key, re-signs the
 * account JWT with the revoked keys added and pushes it to the server through the system account
 * (`$SYS.REQ.CLAIMS.UPDATE`, accepted by the `full` account resolver). The server then closes the
 * revoked users' connections and refuses them from then on, also after a restart.
 */
export interface NatsRevocationSettings {
  /** The NATS server(s) (the services' NATS_URL). */
  servers: string;
  /** The platform account whose JWT gets the revocations (`A…`). */
  accountPublicKey: string;
  /** An operator signing key (seed `SO…`) listed in the operator JWT's `signing_keys`. */
  operatorSigningSeed: string;
  /** Path of the `.creds` file of a user of the system account. */
  systemCredsFile: string;
}

export class RevocationSettingsError extends Error {
  override readonly name = 'RevocationSettingsError';
}

export class NatsRevocationError extends Error {
  override readonly name = 'NatsRevocationError';
}

/** Checks the operator signing seed; the error says what is wrong with it. */
export function parseOperatorSigningSeed(seed: string) {
  let pair;
  try {
    pair = fromSeed(new TextEncoder().encode(seed.trim()));
  } catch (error) {
    throw new RevocationSettingsError(`operator signing seed is not an NKey seed: ${(error as Error).message}`);
  }
  if (!pair.getPublicKey().startsWith('O')) {
    throw new RevocationSettingsError('operator signing seed must be an operator key seed (it starts with "SO")');
  }
  return pair;
}

/** Reads a `.creds` file and checks it holds a user JWT and a user seed; errors name the file. */
export function readSystemCreds(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RevocationSettingsError(`cannot read the system account creds file ${file}: ${(error as Error).message}`);
  }
  if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)) {
    throw new RevocationSettingsError(
      `${file} is not a NATS creds file (it needs a "BEGIN NATS USER JWT" and a "BEGIN USER NKEY SEED" block)`,
    );
  }
  return text;
}

/** Unix seconds, as JWT dates are. */
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The user keys of `keys` the account JWT's claims do not revoke yet. */
export function missingRevocations(claims: ClaimsData<Account>, keys: readonly string[]): string[] {
  const revoked = claims.nats.revocations ?? {};
  return [...new Set(keys)].filter((key) => revoked[key] === undefined);
}

/**
 * The account's claims with `keys` revoked as of `now` (every JWT of those users issued up to then
 * stops working); everything else of the account (limits, signing keys, exports, …) is kept.
 */
export function accountWithRevocations(
  claims: ClaimsData<Account>,
  keys: readonly string[],
  now: Date,
): Partial<Account> {
  const {
    type: _type,
    version: _version,
    ...account
  } = claims.nats as Partial<Account> & {
    type?: unknown;
    version?: unknown;
  };
  const revocations = { ...(account.revocations ?? {}) };
  for (const key of keys) revocations[key] ??= seconds(now);
  return { ...account, revocations };
}

interface ClaimsUpdateReply {
  data?: { code?: number; message?: string; account?: string };
  error?: { code?: number; description?: string; account?: string };
}

/** Revokes user keys in the platform account's JWT on the NATS server (see the module comment). */
export class NatsAccountRevoker {
  private connection: Promise<MessagingConnection> | undefined;
  /** One update at a time: each reads the account JWT, adds keys and writes it back. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly operatorSigner;
  private readonly systemCreds: string;

  constructor(
    private readonly settings: NatsRevocationSettings,
    private readonly logger: MessagingLogger,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.operatorSigner = parseOperatorSigningSeed(settings.operatorSigningSeed);
    this.systemCreds = readSystemCreds(settings.systemCredsFile);
  }

  get operatorSigningPublicKey(): string {
    return this.operatorSigner.getPublicKey();
  }

  /**
   * Makes sure the account JWT on the server revokes every key of `keys`; answers which keys it
   * had to add (none when all were revoked already). Throws, saying why, when the server cannot be
   * asked or refuses the update; then nothing changed on the server.
   */
  revoke(keys: readonly string[]): Promise<{ added: string[] }> {
    const run = this.queue.then(() => this.revokeNow(keys));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The account JWT's current claims, as the server has them. */
  async accountClaims(): Promise<ClaimsData<Account>> {
    const connection = await this.connect();
    const subject = `$SYS.REQ.ACCOUNT.${this.settings.accountPublicKey}.CLAIMS.LOOKUP`;
    let jwt: string;
    try {
      jwt = (await connection.nc.request(subject, '', { timeout: 5_000 })).string().trim();
    } catch (error) {
      throw new NatsRevocationError(
        `the NATS server did not answer the account lookup (${(error as Error).message}): revocations need the ` +
          '`full` account resolver and a system account user',
      );
    }
    let claims: ClaimsData<Account>;
    try {
      claims = decode<Account>(jwt);
    } catch {
      throw new NatsRevocationError(
        `the NATS server answered the lookup of account ${this.settings.accountPublicKey} with no account JWT: ${jwt.slice(0, 200)}`,
      );
    }
    if (claims.sub !== this.settings.accountPublicKey) {
      throw new NatsRevocationError(
        `the NATS server returned the JWT of account ${claims.sub}, not of ${this.settings.accountPublicKey}`,
      );
    }
    return claims;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await (await connection.catch(() => undefined))?.close();
  }

  private async revokeNow(keys: readonly string[]): Promise<{ added: string[] }> {
    const claims = await this.accountClaims();
    const missing = missingRevocations(claims, keys);
    if (missing.length === 0) return { added: [] };
    // JWT dates are whole seconds and the resolver keeps the newer JWT: issue ours a second later
    // than the one it replaces, or a restart could prefer a preloaded JWT of the same second.
    const wait = (claims.iat + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const account = accountWithRevocations(claims, missing, this.clock());
    const jwt = await encodeAccount(claims.name, fromPublic(claims.sub), account, {
      algorithm: Algorithms.v2,
      signer: this.operatorSigner,
      ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
      ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
    });
    const connection = await this.connect();
    let reply: ClaimsUpdateReply;
    try {
      reply = (
        await connection.nc.request('$SYS.REQ.CLAIMS.UPDATE', jwt, { timeout: 5_000 })
      ).json<ClaimsUpdateReply>();
    } catch (error) {
      throw new NatsRevocationError(`the NATS server did not answer the account update: ${(error as Error).message}`);
    }
    if (reply.error || reply.data?.code !== 200) {
      throw new NatsRevocationError(
        `the NATS server refused the account update: ${reply.error?.description ?? reply.data?.message ?? JSON.stringify(reply)}`,
      );
    }
    // Another replica may have written the account between our read and write: check ours stuck.
    const stillMissing = missingRevocations(await this.accountClaims(), missing);
    if (stillMissing.length > 0) {
      throw new NatsRevocationError(
        `the account JWT on the NATS server does not list ${stillMissing.join(', ')} after the update (a concurrent update?)`,
      );
    }
    this.logger.info(
      { event: 'nats.revocations.updated', account: claims.sub, added: missing },
      'connector credentials revoked on the NATS server',
    );
    return { added: missing };
  }

  private connect(): Promise<MessagingConnection> {
    this.connection ??= connectMessaging({
      servers: this.settings.servers,
      name: 'mlr-licensing-revocations',
      credentials: { kind: 'creds', creds: this.systemCreds },
      logger: this.logger,
    }).catch((error: unknown) => {
      this.connection = undefined;
      throw new NatsRevocationError(
        `cannot connect to NATS as the system account user of ${this.settings.systemCredsFile}: ${(error as Error).message}`,
      );
    });
    return this.connection;
  }
}
