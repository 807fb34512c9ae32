import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import pg from 'pg';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CAPABILITY_WARNINGS,
  connectorPermissions,
  serviceSubject,
  tenantCallSubjects,
  type CreatedConnector,
  type EnrolmentRequest,
  type ServiceCalls,
  type ServiceVerb,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { connectMessaging, connectorUserClaims, tenantCallClient } from '@mlr/messaging';
import {
  provisionConnector,
  REPO_ROOT,
  servicesNatsClientOptions,
  servicesNatsCredentials,
  startApp,
  waitFor,
  type RunningApp,
} from '@mlr/testing';
import { decodeUserJwt } from '../connector-jwt.js';
import { hashEnrolmentToken } from '../enrolment-token.js';

const suffix = randomBytes(3).toString('hex');
/** A tenant key id (16 hex characters); fresh per run, as tenant keys are unique across tenants. */
const newKeyId = () => randomBytes(8).toString('hex');
/** The key of the suite's tenant: every connector of it enrols with this one. */
const tenantKey = newKeyId();

/** The licensing service as its own process: connectors, their single-use tokens and enrolment. */
describe('connector enrolment (licensing service)', () => {
  const infra = inject('infra');
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'licensing-connectors-'));
  let app: RunningApp;
  let prisma: PrismaClient;
  let client: ClientProxy;
  let tenantId: string;

  const send = (verb: ServiceVerb, request: unknown) =>
    firstValueFrom(client.send<unknown>(serviceSubject('licensing', verb), request).pipe(timeout(15_000)));
  const call = async <V extends ServiceVerb>(
    verb: V,
    request: ServiceCalls[V]['request'],
  ): Promise<ServiceCalls[V]['response']> => (await send(verb, request)) as ServiceCalls[V]['response'];
  const refusal = async (verb: ServiceVerb, request: unknown) => {
    try {
      await send(verb, request);
    } catch (error) {
      return error as { code: string; message: string; field?: string };
    }
    throw new Error(`${verb} was expected to be refused`);
  };
  const enrolment = (
    token: string,
    publicKey = createUser().getPublicKey(),
    tenantKeyId = tenantKey,
  ): EnrolmentRequest => ({
    token,
    natsPublicKey: publicKey,
    capability: {
      receiveAs: 'no',
      warnings: [CAPABILITY_WARNINGS.notFullAdministrator],
      checkedAt: new Date().toISOString(),
    },
    agentVersion: '0.1.0-test',
    sourceKind: 'imap',
    tenantKeyId,
  });
  const create = (name: string, extra: { enrolmentTtlMinutes?: number; tenantId?: string } = {}) =>
    call('connectors.create', { tenantId, name, kind: 'imap', actor: 'admin@acme', ...extra });

  beforeAll(async () => {
    prisma = createPrismaClient(infra.postgres!.databaseUrl, { maxConnections: 2 });
    tenantId = (await prisma.tenant.create({ data: { name: 'Acme', slug: `enrol-${suffix}` } })).id;
    client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: servicesNatsClientOptions(infra),
    });
    await client.connect();
    // The local infrastructure's environment names the platform account and its signing key.
    app = await startApp({ app: 'licensing', env: infra.serviceEnv, logDir });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await client?.close();
    await prisma?.$disconnect();
  });

  it('creates a connector with a token shown once, enrols it once, and refuses the replay', async () => {
    const created = await create(`head-office-${suffix}`);
    expect(created.connector).toMatchObject({
      tenantId,
      name: `head-office-${suffix}`,
      kind: 'imap',
      state: 'awaiting_enrolment',
      enrolledAt: null,
      natsUserPublicKey: null,
    });
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    // Only the hash is stored.
    const row = await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row.enrolmentTokenHash).toBe(hashEnrolmentToken(created.enrolmentToken));
    expect(JSON.stringify(row)).not.toContain(created.enrolmentToken);

    const key = createUser();
    const enrolled = await call('connectors.enroll', enrolment(created.enrolmentToken, key.getPublicKey()));
    expect(enrolled).toMatchObject({ tenantId, connectorId: created.connector.id, inboxPrefix: `_INBOX_${tenantId}` });
    const claims = decodeUserJwt(enrolled.userJwt);
    const permissions = connectorPermissions(tenantId, created.connector.id);
    expect(claims.sub).toBe(key.getPublicKey());
    const nats = infra.nats!;
    expect(claims.iss).toBe(fromSeed(new TextEncoder().encode(nats.accountSigningSeed)).getPublicKey());
    expect(claims.nats.issuer_account).toBe(nats.accountPublicKey);
    expect(claims.nats.pub?.allow).toEqual(permissions.publish);
    expect(claims.nats.sub?.allow).toEqual(permissions.subscribe);

    const view = await call('connectors.get', { tenantId, connectorId: created.connector.id });
    expect(view).toMatchObject({
      state: 'enrolled',
      natsUserPublicKey: key.getPublicKey(),
      receiveAs: 'no',
      capabilityWarnings: [CAPABILITY_WARNINGS.notFullAdministrator],
      agentVersion: '0.1.0-test',
      enrolmentExpiresAt: null,
    });
    expect(view.enrolledAt).not.toBeNull();

    const replay = await refusal('connectors.enroll', enrolment(created.enrolmentToken));
    expect(replay).toMatchObject({ code: 'forbidden', field: 'token' });
    expect(replay.message).toMatch(/already used on .*a token enrols one connector once/);
    // The enrolment and the refused replay are in the tenant's audit trail.
    const audit = await prisma.auditEvent.findMany({
      where: { tenantId, action: 'connector.enroll', target: `connector:${created.connector.id}` },
      orderBy: { id: 'asc' },
    });
    expect(audit.map((event) => [event.role, event.outcome])).toEqual([
      ['connector', 'success'],
      ['connector', 'denied'],
    ]);
    expect(audit[0]?.actor).toBe(`nkey:${key.getPublicKey()}`);
    expect(audit[1]?.detail).toMatchObject({ reason: 'TOKEN_USED' });
    // The replay changed nothing: the first key stays.
    expect((await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } })).natsUserPublicKey).toBe(
      key.getPublicKey(),
    );
  });

  it('refuses an expired token, and an unknown one, saying which', async () => {
    const created = await create(`branch-${suffix}`, { enrolmentTtlMinutes: 5 });
    await prisma.connector.update({
      where: { id: created.connector.id },
      data: { enrolmentTokenExpiresAt: new Date(Date.now() - 60_000) },
    });
    const expired = await refusal('connectors.enroll', enrolment(created.enrolmentToken));
    expect(expired).toMatchObject({ code: 'forbidden', field: 'token' });
    expect(expired.message).toMatch(/^token: this enrolment token expired on /);
    expect((await call('connectors.get', { tenantId, connectorId: created.connector.id })).state).toBe(
      'enrolment_expired',
    );
    const row = await prisma.connector.findUniqueOrThrow({ where: { id: created.connector.id } });
    expect(row.enrolmentTokenUsedAt).toBeNull();
    expect(row.natsUserPublicKey).toBeNull();

    const unknown = await refusal('connectors.enroll', enrolment(`mlr-enrol-${'A'.repeat(43)}`));
    expect(unknown).toMatchObject({ code: 'forbidden', field: 'token' });
    expect(unknown.message).toMatch(/unknown/);
  });

  it('lets exactly one of several simultaneous enrolments with the same token through', async () => {
    const created = await create(`race-${suffix}`);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => call('connectors.enroll', enrolment(created.enrolmentToken))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'forbidden', field: 'token' });
    }
  });

  it("renews an enrolled connector's JWT for its own key through tenant.status, and no one else's", async () => {
    const messaging = await connectMessaging({
      servers: infra.nats!.url,
      name: 'licensing-refresh-it',
      credentials: servicesNatsCredentials(infra),
    });
    const refresh = async (connectorId: string, natsPublicKey: string) => {
      const reply = await tenantCallClient(messaging).request(
        'tenant.status',
        tenantCallSubjects['tenant.status'](tenantId),
        { tenantId, refresh: { connectorId, natsPublicKey } },
        { timeoutMs: 15_000 },
      );
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.value.credentials;
    };
    try {
      const created = await create(`refresh-${suffix}`);
      const key = createUser();
      await call('connectors.enroll', enrolment(created.enrolmentToken, key.getPublicKey()));
      const renewed = await refresh(created.connector.id, key.getPublicKey());
      if (!renewed || !('userJwt' in renewed)) throw new Error(`not renewed: ${JSON.stringify(renewed)}`);
      const claims = decodeUserJwt(renewed.userJwt);
      expect(claims.sub).toBe(key.getPublicKey());
      expect(claims.nats).toMatchObject(connectorUserClaims(tenantId, created.connector.id));

      expect(await refresh(created.connector.id, createUser().getPublicKey())).toEqual({
        refused: expect.stringMatching(/is not the NATS key connector .* enrolled with/),
      });
      expect(await refresh('no-such-connector', key.getPublicKey())).toEqual({
        refused: `tenant ${tenantId} has no connector no-such-connector`,
      });
      const waiting = await create(`refresh-waiting-${suffix}`);
      expect(await refresh(waiting.connector.id, key.getPublicKey())).toEqual({
        refused: `connector ${waiting.connector.id} is awaiting enrolment`,
      });
      await call('connectors.revoke', { tenantId, connectorId: created.connector.id, actor: 'admin@acme' });
      expect(await refresh(created.connector.id, key.getPublicKey())).toEqual({
        refused: `connector ${created.connector.id} is revoked`,
      });
      const audited = await prisma.auditEvent.findMany({
        where: { tenantId, action: 'connector.credentials.refresh', target: `connector:${created.connector.id}` },
        orderBy: { id: 'asc' },
      });
      expect(audited.map((event) => [event.actor, event.outcome])).toEqual([
        [`nkey:${key.getPublicKey()}`, 'success'],
        [expect.stringMatching(/^nkey:U/), 'denied'],
        [`nkey:${key.getPublicKey()}`, 'denied'],
      ]);
    } finally {
      await messaging.close();
    }
  });

  it('refuses the token of a revoked connector, and bad requests with the field at fault', async () => {
    const created = await create(`revoked-${suffix}`);
    const revoked = await call('connectors.revoke', {
      tenantId,
      connectorId: created.connector.id,
      actor: 'admin@acme',
    });
    expect(revoked.state).toBe('revoked');
    const refused = await refusal('connectors.enroll', enrolment(created.enrolmentToken));
    expect(refused).toMatchObject({ code: 'forbidden' });
    expect(refused.message).toMatch(/was revoked on/);

    const badKey = await refusal('connectors.enroll', { ...enrolment(created.enrolmentToken), natsPublicKey: 'nope' });
    expect(badKey).toMatchObject({ code: 'invalid_request', field: 'natsPublicKey' });
    // Right shape, wrong checksum.
    const forged = `U${'A'.repeat(55)}`;
    const badChecksum = await refusal('connectors.enroll', {
      ...enrolment(created.enrolmentToken),
      natsPublicKey: forged,
    });
    expect(badChecksum).toMatchObject({ code: 'invalid_request', field: 'natsPublicKey' });

    const taken = await refusal('connectors.create', {
      tenantId,
      name: `revoked-${suffix}`,
      kind: 'imap',
      actor: 'admin@acme',
    });
    expect(taken).toMatchObject({ code: 'conflict', field: 'name' });
    const badKind = await refusal('connectors.create', { tenantId, name: 'x', kind: 'fax', actor: 'admin@acme' });
    expect(badKind).toMatchObject({ code: 'invalid_request', field: 'kind' });
    const noTenant = await refusal('connectors.create', {
      tenantId: 'no-such-tenant',
      name: 'x',
      kind: 'imap',
      actor: 'admin@acme',
    });
    expect(noTenant).toMatchObject({ code: 'not_found', field: 'tenantId' });
  });

  describe('one tenant key per tenant', () => {
    let tenants = 0;
    /** A tenant of its own (no key recorded yet) and one connector per name. */
    async function tenantWith(...names: string[]) {
      const id = (await prisma.tenant.create({ data: { name: 'Keyed', slug: `keyed-${suffix}-${++tenants}` } })).id;
      const connectors = [];
      for (const name of names) connectors.push(await create(name, { tenantId: id }));
      return { id, connectors };
    }
    const tokenUnused = async (connectorId: string) => {
      const row = await prisma.connector.findUniqueOrThrow({ where: { id: connectorId } });
      return row.enrolmentTokenUsedAt === null && row.natsUserPublicKey === null;
    };
    const mismatch = (id: string, recorded: string, sent: string) =>
      `tenantKeyId: the backups of tenant ${id} are sealed with tenant key ${recorded}, but this connector would use ` +
      `key ${sent}; every connector of a tenant must use the tenant's key. Import it with --recovery-kit <file> ` +
      '(a recovery kit made by "connector export-recovery-kit" on a connector that has the key). The token was not used';

    it("records the key of the tenant's first enrolment, shows it, and refuses another key keeping the token usable", async () => {
      const tenant = await tenantWith('first', 'second');
      const [first, second] = tenant.connectors as [CreatedConnector, CreatedConnector];
      expect((await call('tenants.get', { tenantId: tenant.id })).tenantKeyId).toBeNull();
      const key = newKeyId();
      await call('connectors.enroll', enrolment(first.enrolmentToken, undefined, key));
      expect((await call('tenants.get', { tenantId: tenant.id })).tenantKeyId).toBe(key);

      const otherKey = newKeyId();
      const natsKey = createUser().getPublicKey();
      const refused = await refusal('connectors.enroll', enrolment(second.enrolmentToken, natsKey, otherKey));
      expect(refused).toMatchObject({ code: 'conflict', field: 'tenantKeyId' });
      expect(refused.message).toBe(mismatch(tenant.id, key, otherKey));
      expect(await tokenUnused(second.connector.id)).toBe(true);
      expect((await call('connectors.get', { tenantId: tenant.id, connectorId: second.connector.id })).state).toBe(
        'awaiting_enrolment',
      );
      const audit = await prisma.auditEvent.findMany({
        where: { tenantId: tenant.id, action: 'connector.enroll', target: `connector:${second.connector.id}` },
      });
      expect(audit.map((event) => [event.outcome, event.detail])).toEqual([
        ['denied', expect.objectContaining({ reason: 'TENANT_KEY_MISMATCH', tenantKeyId: otherKey })],
      ]);

      // With the tenant's key (imported from a recovery kit) the same token enrols it.
      const enrolled = await call('connectors.enroll', enrolment(second.enrolmentToken, natsKey, key));
      expect(enrolled.connectorId).toBe(second.connector.id);
      expect((await call('tenants.get', { tenantId: tenant.id })).tenantKeyId).toBe(key);
    });

    it("refuses another tenant's key at a tenant's first enrolment, recording nothing", async () => {
      const acme = await tenantWith('acme');
      const globex = await tenantWith('globex');
      const key = newKeyId();
      await call('connectors.enroll', enrolment(acme.connectors[0]!.enrolmentToken, undefined, key));
      const refused = await refusal(
        'connectors.enroll',
        enrolment(globex.connectors[0]!.enrolmentToken, undefined, key),
      );
      expect(refused).toMatchObject({ code: 'conflict', field: 'tenantKeyId' });
      expect(refused.message).toMatch(new RegExp(`^tenantKeyId: key ${key} is the tenant key of another tenant`));
      expect(refused.message).not.toContain(acme.id);
      expect(await tokenUnused(globex.connectors[0]!.connector.id)).toBe(true);
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: globex.id } })).tenantKeyId).toBeNull();
    });

    it('lets exactly one of several simultaneous first enrolments with different keys through', async () => {
      const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
      const tenant = await tenantWith(...names);
      const keys = names.map(() => newKeyId());
      const outcomes = await Promise.allSettled(
        tenant.connectors.map((created, i) =>
          call('connectors.enroll', enrolment(created.enrolmentToken, undefined, keys[i])),
        ),
      );
      const won = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      const winner = won[0]!;
      expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).tenantKeyId).toBe(keys[winner]);
      for (const [i, outcome] of outcomes.entries()) {
        if (i === winner) continue;
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          code: 'conflict',
          field: 'tenantKeyId',
          message: mismatch(tenant.id, keys[winner]!, keys[i]!),
        });
        expect(await tokenUnused(tenant.connectors[i]!.connector.id)).toBe(true);
      }
    });

    it('an enrolment waiting for a concurrent first enrolment of the tenant sees its key: refused after a commit, recorded after a rollback', async () => {
      const tenant = await tenantWith('held-1', 'held-2');
      const [one, two] = tenant.connectors as [CreatedConnector, CreatedConnector];
      const db = new pg.Client({ connectionString: infra.postgres!.databaseUrl });
      await db.connect();
      const waitingOnTheTenant = async () =>
        (
          await db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))',
          )
        ).rows[0]!.n > 0;
      try {
        // Another first enrolment holds the tenant row, its key written but not committed ...
        const held = newKeyId();
        const sent = newKeyId();
        await db.query('BEGIN');
        await db.query('UPDATE tenants SET tenant_key_id = $2 WHERE id = $1', [tenant.id, held]);
        const attempt = refusal('connectors.enroll', enrolment(one.enrolmentToken, undefined, sent));
        await waitFor(waitingOnTheTenant, { what: 'the enrolment to wait for the tenant row', timeoutMs: 10_000 });
        // ... and commits: the waiting enrolment finds the key set, and is refused without its token taken.
        await db.query('COMMIT');
        expect(await attempt).toMatchObject({ code: 'conflict', message: mismatch(tenant.id, held, sent) });
        expect(await tokenUnused(one.connector.id)).toBe(true);

        // A first enrolment that rolls back leaves the tenant without a key: the waiting one records its own.
        await db.query('UPDATE tenants SET tenant_key_id = NULL WHERE id = $1', [tenant.id]);
        await db.query('BEGIN');
        await db.query('UPDATE tenants SET tenant_key_id = $2 WHERE id = $1', [tenant.id, newKeyId()]);
        const enrolling = call('connectors.enroll', enrolment(two.enrolmentToken, undefined, sent));
        await waitFor(waitingOnTheTenant, { what: 'the enrolment to wait for the tenant row', timeoutMs: 10_000 });
        await db.query('ROLLBACK');
        expect((await enrolling).connectorId).toBe(two.connector.id);
        expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).tenantKeyId).toBe(sent);
      } finally {
        await db.end();
      }
    });
  });

  it("holds a tenant provisioned by the test fixture to the key in the fixture's directory", async () => {
    const provisionedTenant = `provisioned-${suffix}`;
    const provision = (tenant: string, dir: string) =>
      provisionConnector(infra, { tenantId: tenant, connectorId: `imap-${tenant}`, dir, mailboxes: ['alice'] });
    const home = join(logDir, 'provisioned');
    const provisioned = await provision(provisionedTenant, home);
    expect(provisioned.tenantKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect((await call('tenants.get', { tenantId: provisionedTenant })).tenantKeyId).toBe(provisioned.tenantKeyId);
    // Again in the same directory: the same key.
    expect((await provision(provisionedTenant, home)).tenantKeyId).toBe(provisioned.tenantKeyId);

    const created = await create(`provisioned-${suffix}`, { tenantId: provisionedTenant });
    const refused = await refusal('connectors.enroll', enrolment(created.enrolmentToken, undefined, newKeyId()));
    expect(refused).toMatchObject({ code: 'conflict', field: 'tenantKeyId' });
    expect(refused.message).toContain(`sealed with tenant key ${provisioned.tenantKeyId}`);
    await call('connectors.enroll', enrolment(created.enrolmentToken, undefined, provisioned.tenantKeyId));

    // A second directory would make a second key for the tenant; the directory of one tenant is not another's.
    await expect(provision(provisionedTenant, join(logDir, 'provisioned-elsewhere'))).rejects.toThrow(
      new RegExp(`backups of tenant ${provisionedTenant} are sealed with tenant key ${provisioned.tenantKeyId}`),
    );
    await expect(provision(`other-${suffix}`, home)).rejects.toThrow(
      new RegExp(`holds the tenant key of tenant ${provisionedTenant}`),
    );
  });

  it("lists the tenant's connectors by name", async () => {
    const { connectors } = await call('connectors.list', { tenantId });
    const names = connectors.map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(
      expect.arrayContaining([`branch-${suffix}`, `head-office-${suffix}`, `race-${suffix}`, `revoked-${suffix}`]),
    );
    expect(JSON.stringify(connectors)).not.toMatch(/enrolmentToken|mlr-enrol-/);
  });
});
