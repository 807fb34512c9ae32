import { join } from 'node:path';
import { expect } from 'vitest';
import { deriveTenantKeys, type TenantKeys } from '@mlr/crypto';
import {
  addDovecotUser,
  corpusMessages,
  freePort,
  provisionConnector,
  required,
  seedFolder,
  type LocalInfrastructure,
} from '@mlr/testing';
import type { PlatformFixture } from './platform-fixture.js';

/** Distinct corpus messages of realistic shapes: corpus mail made unique by a header of its own. */
export function loadMessages(tag: string, count: number): Array<{ bytes: Buffer }> {
  const corpus = corpusMessages().filter((m) => m.bytes.length < 200_000);
  return Array.from({ length: count }, (_, i) => ({
    bytes: Buffer.concat([
      Buffer.from(`X-MLR-Load: ${tag} ${i}\r\n`),
      (corpus[i % corpus.length] as { bytes: Buffer }).bytes,
    ]),
  }));
}

export interface BackupScenario {
  connectorId: string;
  planId: string;
  keys: TenantKeys;
  /** How to start the connector again (`platform.startConnector(configFile, healthPort)`). */
  configFile: string;
  healthPort: number;
}

/**
 * A mailbox seeded with `messages` in INBOX, the platform started (with `replicas` of storage and
 * indexing), one connector of the tenant provisioned in `dir` and started, and a plan backing the
 * mailbox up, ready to run.
 */
export async function startBackupScenario(
  infra: LocalInfrastructure,
  platform: PlatformFixture,
  options: {
    tenantId: string;
    mailbox: string;
    dir: string;
    messages: ReadonlyArray<{ bytes: Buffer }>;
    replicas?: 1 | 2;
    /** Short acknowledgement wait: messages caught in a fault are sent again sooner. */
    ackTimeoutSeconds: number;
    /** The NATS URL the connector is given: e.g. a proxy in front of NATS. */
    natsUrl?: string;
    /** The tenant's upload quota (default the platform's). */
    uploadQuotaBytes?: number;
  },
): Promise<BackupScenario> {
  const { tenantId, mailbox, dir } = options;
  const connectorId = `imap-${tenantId}`;
  await addDovecotUser(join(infra.dir, 'dovecot'), { name: mailbox, password: `${mailbox}-password` });
  const seeded = await seedFolder(required(infra, 'imap'), mailbox, 'INBOX', [...options.messages]);
  expect(seeded.filter((r) => r.refused)).toEqual([]);

  await platform.startPlatform();
  if (options.replicas === 2) {
    await platform.startReplica('storage', 'storage-2');
    await platform.startReplica('indexing', 'indexing-2');
  }
  const healthPort = await freePort();
  const connector = await provisionConnector(infra, {
    tenantId,
    connectorId,
    dir,
    mailboxes: [mailbox],
    healthPort,
    ...(options.natsUrl ? { natsUrl: options.natsUrl } : {}),
    ...(options.uploadQuotaBytes ? { uploadQuotaBytes: options.uploadQuotaBytes } : {}),
    backup: { publicFolders: false, ackTimeoutSeconds: options.ackTimeoutSeconds },
  });
  const keys = deriveTenantKeys(Buffer.from(connector.rootKeyHex, 'hex'));
  await platform.startConnector(connector.configFile, healthPort);
  const planId = await platform.createPlan(tenantId, {
    name: mailbox,
    connectorId,
    mailboxes: { kind: 'list', mailboxes: [mailbox] },
  });
  return { connectorId, planId, keys, configFile: connector.configFile, healthPort };
}
