import { readFileSync } from 'node:fs';
import { decode, fmtCreds, fromSeed, parseCreds, type User } from '@nats-io/jwt';
import { tenantCallSubjects } from '@mlr/contracts';
import { outdatedClaims, tenantCallClient, type MessagingConnection } from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import type { ConnectorConfig } from '../config/connector-config.js';
import { writeSecretFile } from './enrol-command.js';

/**
 * Renews the connector's NATS credentials when their JWT predates this build: asks licensing (the
 * `tenant.status` call, which even the oldest connector JWT may publish to) for a JWT with today's
 * claims for the same NATS key, checks it and writes the creds file again (0600; the seed is kept).
 * True when the file was renewed: the caller connects again for the server to apply the new claims.
 * A refusal or an unreachable licensing is logged and the old credentials stay in use.
 */
export async function refreshCredentials(
  config: ConnectorConfig,
  messaging: MessagingConnection,
  logger: Logger,
): Promise<boolean> {
  const credsFile = config.nats.credsFile;
  if (credsFile === undefined) return false;
  const { key: seed, jwt } = await parseCreds(readFileSync(credsFile));
  const outdated = outdatedClaims(decode<User>(jwt).nats, config.tenantId, config.connectorId);
  if (outdated.length === 0) return false;
  const keyPair = fromSeed(new TextEncoder().encode(seed));
  const natsPublicKey = keyPair.getPublicKey();
  logger.info(
    { event: 'credentials.outdated', outdated },
    `the connector's NATS credentials predate this version (${outdated.join(', ')}): asking for current ones`,
  );
  let answer;
  try {
    const reply = await tenantCallClient(messaging).request(
      'tenant.status',
      tenantCallSubjects['tenant.status'](config.tenantId),
      { tenantId: config.tenantId, refresh: { connectorId: config.connectorId, natsPublicKey } },
    );
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
    answer = reply.value.credentials;
  } catch (error) {
    logger.warn(
      { event: 'credentials.refresh-failed', error: (error as Error).message },
      'could not renew the NATS credentials; the old ones stay in use',
    );
    return false;
  }
  if (!answer || 'refused' in answer) {
    logger.warn(
      { event: 'credentials.refresh-refused', reason: answer?.refused ?? 'no answer' },
      `the platform did not renew the NATS credentials: ${answer?.refused ?? 'no answer'}`,
    );
    return false;
  }
  const renewed = decode<User>(answer.userJwt);
  const still = outdatedClaims(renewed.nats, config.tenantId, config.connectorId);
  if (renewed.sub !== natsPublicKey || still.length > 0) {
    logger.warn(
      { event: 'credentials.refresh-refused', subject: renewed.sub, outdated: still },
      'the renewed NATS credentials are not for this connector as it is now; the old ones stay in use',
    );
    return false;
  }
  writeSecretFile(credsFile, fmtCreds(answer.userJwt, keyPair));
  logger.info(
    { event: 'credentials.renewed', credsFile },
    'NATS credentials renewed with the current permissions and limits',
  );
  return true;
}
