import { readFileSync } from 'node:fs';
import { credsAuthenticator, type Authenticator } from '@nats-io/nats-core';
import { connectorUserClaims, connectorUserName, type NatsCredentials } from '@mlr/messaging';
import { required, type LocalInfrastructure } from './infra/local-infrastructure.js';
import { natsUserCreds } from './infra/nats.js';

/** The services' user of the local NATS (the whole platform account), for `connectMessaging`. */
export function servicesNatsCredentials(infra: LocalInfrastructure): NatsCredentials {
  return { kind: 'creds', creds: readFileSync(required(infra, 'nats').servicesCredsFile, 'utf8') };
}

/**
 * Options of a Nest NATS client as the services' user:
 * `ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) })`.
 */
export function servicesNatsClientOptions(infra: LocalInfrastructure): {
  servers: string[];
  authenticator: Authenticator;
} {
  const nats = required(infra, 'nats');
  return { servers: [nats.url], authenticator: credsAuthenticator(readFileSync(nats.servicesCredsFile)) };
}

/**
 * A connector's NATS credentials as enrolment makes them: its own user key pair (a new one, or the
 * one of `seed`) and a user JWT with the connector's claims, signed by the platform account's
 * signing key. `creds` is the text of its `.creds` file.
 */
export async function connectorNatsCreds(
  infra: LocalInfrastructure,
  tenantId: string,
  connectorId: string,
  options: { seed?: string } = {},
): Promise<{ creds: string; publicKey: string; seed: string; jwt: string }> {
  const nats = required(infra, 'nats');
  return natsUserCreds(
    { publicKey: nats.accountPublicKey, signingSeed: nats.accountSigningSeed },
    connectorUserName(tenantId, connectorId),
    { claims: connectorUserClaims(tenantId, connectorId), ...(options.seed ? { seed: options.seed } : {}) },
  );
}
