import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CAPABILITY_WARNINGS,
  connectorPermissions,
  serviceSubject,
  type EnrolmentRequest,
  type ServiceCalls,
  type ServiceVerb,
} from '@mlr/contracts';
import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { REPO_ROOT, servicesNatsClientOptions, startApp, type RunningApp } from '@mlr/testing';
import { decodeUserJwt } from '../connector-jwt.js';
import { hashEnrolmentToken } from '../enrolment-token.js';

const suffix = randomBytes(3).toString('hex');

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
  const enrolment = (token: string, publicKey = createUser().getPublicKey()): EnrolmentRequest => ({
    token,
    natsPublicKey: publicKey,
    capability: {
      receiveAs: 'no',
      warnings: [CAPABILITY_WARNINGS.notFullAdministrator],
      checkedAt: new Date().toISOString(),
    },
    agentVersion: '0.1.0-test',
    sourceKind: 'imap',
  });
  const create = (name: string, extra: { enrolmentTtlMinutes?: number } = {}) =>
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
