import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tenantCallSubjects, type RestoreItem } from '@mlr/contracts';
import {
  connectMessaging,
  ServiceError,
  tenantCallServer,
  type MessagingConnection,
  type Responder,
} from '@mlr/messaging';
import { servicesNatsCredentials } from '@mlr/testing';
import { readAllItems, RestoreItemsError } from '@mlr/connector-core';
import { TenantCallRestoreItemSource } from './restore-item-source.js';

const TENANT = `items-it-${randomUUID().slice(0, 8)}`;

function makeItem(seq: number): RestoreItem {
  return {
    seq,
    recordId: `rec-${seq}`,
    contentId: seq.toString(16).padStart(64, '0'),
    mailbox: 'alice',
    folder: 'INBOX',
    messageId: `<m${seq}@example.com>`,
    subject: `message ${seq}`,
    internalDate: '2024-02-29T10:00:00.000Z',
    flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
    keywords: [],
    size: 100 + seq,
    itemType: 'mail',
    form: 'rfc5322',
  };
}

/** `restore.items` over real NATS, served here as scheduling serves it. */
describe('TenantCallRestoreItemSource', () => {
  const infra = inject('infra');
  let connection: MessagingConnection;
  const responders: Responder[] = [];

  beforeAll(async () => {
    connection = await connectMessaging({
      servers: infra.nats!.url,
      name: 'restore-items-it',
      credentials: servicesNatsCredentials(infra),
    });
  });

  afterAll(async () => {
    await Promise.all(responders.map((r) => r.stop()));
    await connection?.close();
  });

  it('reads every item of a job, 500 at a time, on the job subject', async () => {
    const jobId = 'job-pages';
    const items = Array.from({ length: 1_203 }, (_, i) => makeItem(i));
    const asked: Array<{ tenantId: string; jobId: string; after: number; limit: number }> = [];
    responders.push(
      tenantCallServer(connection).serve(
        'restore.items',
        tenantCallSubjects['restore.items'](TENANT, jobId),
        async (request) => {
          asked.push(request);
          return {
            items: items.filter((i) => i.seq > request.after).slice(0, request.limit),
            total: items.length,
          };
        },
      ),
    );
    const read = await readAllItems(new TenantCallRestoreItemSource(connection, TENANT, jobId), items.length);
    expect(read).toEqual(items);
    expect(asked.map((a) => [a.tenantId, a.jobId, a.after, a.limit])).toEqual([
      [TENANT, jobId, -1, 500],
      [TENANT, jobId, 499, 500],
      [TENANT, jobId, 999, 500],
    ]);
  });

  it("names the service's refusal", async () => {
    const jobId = 'job-gone';
    responders.push(
      tenantCallServer(connection).serve('restore.items', tenantCallSubjects['restore.items'](TENANT, jobId), () => {
        throw new ServiceError('not_found', `restore job ${jobId} does not exist`);
      }),
    );
    const source = new TenantCallRestoreItemSource(connection, TENANT, jobId);
    const failure = readAllItems(source, 3);
    await expect(failure).rejects.toBeInstanceOf(RestoreItemsError);
    await expect(failure).rejects.toThrow(
      `cannot read the items of restore job ${jobId} (after seq -1): not_found: restore job ${jobId} does not exist`,
    );
  });

  it('fails at once when nothing serves the job subject', async () => {
    const source = new TenantCallRestoreItemSource(connection, TENANT, 'job-nobody');
    await expect(readAllItems(source, 1)).rejects.toThrow(
      /unavailable: no service answers on mlr\..*\.restore\.job-nobody/,
    );
  });
});
