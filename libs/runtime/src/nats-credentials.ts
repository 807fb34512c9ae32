import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '@nats-io/nats-core';
import { natsCredentialProblems } from '@mlr/config';
import type { NatsCredentials } from '@mlr/messaging';

/** The NATS settings of a service's validated configuration (see `natsEnvSchema` of @mlr/config). */
export interface NatsCredentialSettings {
  NATS_CREDS?: string | undefined;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
}

export class NatsCredentialsError extends Error {
  override readonly name = 'NatsCredentialsError';
}

/**
 * The credentials the configuration names: the creds file's content (read and checked here, so a
 * missing or broken file stops the service at start with its path in the message), a user and
 * password, or none.
 */
export function natsCredentials(config: NatsCredentialSettings): NatsCredentials | undefined {
  // loadConfig has refused these already; a configuration built otherwise (tests, tools) is checked here.
  const problems = natsCredentialProblems({ ...config });
  if (problems.length > 0) {
    throw new NatsCredentialsError(problems.map((problem) => `${problem.variable} ${problem.message}`).join('; '));
  }
  if (config.NATS_CREDS !== undefined) {
    const file = config.NATS_CREDS;
    let creds: Uint8Array;
    try {
      creds = readFileSync(file);
    } catch (error) {
      throw new NatsCredentialsError(
        `NATS_CREDS: cannot read the NATS creds file ${file}: ${(error as Error).message}`,
      );
    }
    try {
      // Parses the JWT and the seed and signs a nonce with it, as the client will on connect.
      credsAuthenticator(creds)('check');
    } catch (error) {
      throw new NatsCredentialsError(
        `NATS_CREDS: ${file} is not a NATS creds file (a user JWT and an NKey seed): ${(error as Error).message}`,
      );
    }
    return { kind: 'creds', creds };
  }
  if (config.NATS_USER !== undefined && config.NATS_PASSWORD !== undefined) {
    return { kind: 'userPassword', user: config.NATS_USER, password: config.NATS_PASSWORD };
  }
  return undefined;
}
