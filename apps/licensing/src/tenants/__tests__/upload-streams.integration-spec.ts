import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_CHUNKS_STREAM, subjects, tenantChunksStream, UPLOAD_QUOTA_MIN_BYTES } from '@mlr/contracts';
import { connectMessaging, type MessagingConnection } from '@mlr/messaging';
import { createLogger } from '@mlr/telemetry';
import { REPO_ROOT, startNats, type NatsInfo, type ServiceHandle } from '@mlr/testing';
import { LicensingException } from '../../common/licensing.exception.js';
import type { TenantRecord, TenantRepository } from '../tenants.repository.js';
import { TenantUploadStreams } from '../upload-streams.js';

const MIB = 1024 * 1024;

/**
 * Licensing keeps every MLR tenant's chunk stream with its recorded quota, on a NATS of its own here
 * (the old stream of all tenants overlaps every tenant's, so it cannot sit on the shared one).
 */
describe('TenantUploadStreams on nats-server', () => {
  let dir: string;
  let nats: ServiceHandle<NatsInfo>;
  let messaging: MessagingConnection;
  const enabled: Array<Pick<TenantRecord, 'id' | 'uploadQuotaBytes'>> = [];
  const tenants = { mlrEnabled: async () => [...enabled] } as unknown as TenantRepository;
  const streams = () =>
    new TenantUploadStreams(
      messaging,
      tenants,
      { defaultBytes: 32 * MIB, checkEveryMs: 60_000 },
      createLogger({ service: 'upload-streams-it', level: 'silent' }),
    );
  const maxBytes = async (tenantId: string) =>
    (await (await messaging.manager()).streams.info(tenantChunksStream(tenantId).name)).config.max_bytes;

  beforeAll(async () => {
    dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'upload-streams-'));
    nats = await startNats({ dir });
    messaging = await connectMessaging({ servers: nats.info.url, name: 'upload-streams-it' });
  });

  afterAll(async () => {
    await messaging?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replaces the one chunk stream of all tenants by each MLR tenant's own, with its quota", async () => {
    const jsm = await messaging.manager();
    await jsm.streams.add({ name: LEGACY_CHUNKS_STREAM, subjects: ['mlr.*.chunks.*'] });
    await messaging.js.publish(subjects.chunks('acme', 'a'.repeat(32)), new Uint8Array(100));
    enabled.push({ id: 'acme', uploadQuotaBytes: null }, { id: 'globex', uploadQuotaBytes: BigInt(64 * MIB) });

    const check = await streams().checkAll();
    expect(check).toEqual({ declared: ['acme', 'globex'], failed: [] });
    await expect(jsm.streams.info(LEGACY_CHUNKS_STREAM)).rejects.toThrow(/stream not found/);
    expect(await maxBytes('acme')).toBe(32 * MIB);
    expect(await maxBytes('globex')).toBe(64 * MIB);
    const info = await jsm.streams.info(tenantChunksStream('acme').name);
    expect(info.config).toMatchObject({ subjects: ['mlr.acme.chunks.*'], discard: 'new' });

    // A stream lost since (a NATS that lost its store) is made again by the next check.
    await jsm.streams.delete(tenantChunksStream('globex').name);
    expect(await streams().checkAll()).toEqual({ declared: ['globex'], failed: [] });
    expect(await maxBytes('globex')).toBe(64 * MIB);
  });

  it('changes a quota in place, keeps what waits in the stream, and refuses one NATS cannot reserve', async () => {
    const uploads = streams();
    await uploads.declare('initech', UPLOAD_QUOTA_MIN_BYTES);
    await messaging.js.publish(subjects.chunks('initech', 'b'.repeat(32)), new Uint8Array(1000));
    await uploads.declare('initech', 48 * MIB);
    expect(await maxBytes('initech')).toBe(48 * MIB);
    const jsm = await messaging.manager();
    expect((await jsm.streams.info(tenantChunksStream('initech').name)).state.messages).toBe(1);

    // The test server's file store is 1 TiB: a quota of all of it cannot be reserved beside the others.
    const refusal = await uploads.declare('initech', 1024 ** 4).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(LicensingException);
    expect(refusal).toMatchObject({ code: 'UPLOAD_QUOTA_UNAVAILABLE', field: 'bytes' });
    expect((refusal as Error).message).toMatch(
      /^bytes: NATS cannot reserve 1099511627776 bytes for the uploads of tenant initech: .*max_file_store/,
    );
    expect(await maxBytes('initech')).toBe(48 * MIB);

    // One tenant whose quota cannot be reserved does not keep the others from their streams.
    enabled.push({ id: 'hooli', uploadQuotaBytes: BigInt(1024 ** 4) }, { id: 'umbrella', uploadQuotaBytes: null });
    const check = await streams().checkAll();
    expect(check.declared).toEqual(['umbrella']);
    expect(check.failed).toEqual([{ tenantId: 'hooli', error: expect.stringMatching(/NATS cannot reserve/) }]);
  });
});
