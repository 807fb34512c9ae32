import { createAccount, createUser } from '@nats-io/nkeys';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRepository } from '../audit/audit.repository.js';
import { ConnectorJwtIssuer } from './connector-jwt.js';
import { ConnectorRevocations, type CredentialRevoker } from './connector-revocations.js';
import { ConnectorErrorCode, ConnectorException, toServiceErrorReply } from './connectors.exception.js';
import type {
  ConnectorRecord,
  ConnectorRepository,
  EnrolmentOutcome,
  EnrolmentUpdate,
} from './connectors.repository.js';
import { ConnectorsService } from './connectors.service.js';
import { hashEnrolmentToken } from './enrolment-token.js';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const silent = { child: () => silent, info: () => undefined, warn: () => undefined, error: () => undefined };

/** An in-memory repository with the same single-use and one-key-per-tenant rules as the SQL one. */
class MemoryConnectors implements ConnectorRepository {
  readonly rows: ConnectorRecord[] = [];
  /** tenants.tenant_key_id */
  readonly tenantKeys = new Map<string, string>();
  enrollCalls = 0;
  async tenantExists(tenantId: string) {
    return tenantId === 'acme' || tenantId === 'globex';
  }
  async create(input: {
    tenantId: string;
    name: string;
    kind: ConnectorRecord['kind'];
    tokenHash: string;
    expiresAt: Date;
  }) {
    if (this.rows.some((r) => r.tenantId === input.tenantId && r.name === input.name)) {
      throw Object.assign(new Error('unique'), { code: 'P2002' });
    }
    const row: ConnectorRecord = {
      id: `c-${this.rows.length + 1}`,
      tenantId: input.tenantId,
      name: input.name,
      kind: input.kind,
      enrolmentTokenHash: input.tokenHash,
      enrolmentTokenExpiresAt: input.expiresAt,
      enrolmentTokenUsedAt: null,
      natsUserPublicKey: null,
      receiveAs: 'unknown',
      capabilityWarnings: [],
      capabilityCheckedAt: null,
      agentVersion: null,
      revokedAt: null,
      natsRevokedAt: null,
      createdAt: NOW,
      updatedAt: NOW,
    };
    this.rows.push(row);
    return row;
  }
  async list(tenantId: string) {
    return this.rows.filter((r) => r.tenantId === tenantId);
  }
  async get(tenantId: string, connectorId: string) {
    return this.rows.find((r) => r.tenantId === tenantId && r.id === connectorId) ?? null;
  }
  async byTokenHash(tokenHash: string) {
    return this.rows.find((r) => r.enrolmentTokenHash === tokenHash) ?? null;
  }
  async enroll(update: EnrolmentUpdate): Promise<EnrolmentOutcome> {
    this.enrollCalls += 1;
    const row = await this.byTokenHash(update.tokenHash);
    if (!row || row.enrolmentTokenUsedAt || row.revokedAt || row.enrolmentTokenExpiresAt! <= update.now) {
      return { outcome: 'token_not_taken' };
    }
    const target = { id: row.id, tenantId: row.tenantId };
    const recorded = this.tenantKeys.get(row.tenantId);
    if (recorded !== undefined && recorded !== update.tenantKeyId) {
      return { outcome: 'tenant_key_differs', connector: target, tenantKeyId: recorded };
    }
    if (recorded === undefined) {
      if ([...this.tenantKeys.values()].includes(update.tenantKeyId)) {
        return { outcome: 'key_of_another_tenant', connector: target };
      }
      this.tenantKeys.set(row.tenantId, update.tenantKeyId);
    }
    Object.assign(row, {
      enrolmentTokenUsedAt: update.now,
      natsUserPublicKey: update.natsUserPublicKey,
      receiveAs: update.capability.receiveAs,
    });
    return { outcome: 'enrolled', connector: row };
  }
  async revoke(tenantId: string, connectorId: string, now: Date) {
    const row = await this.get(tenantId, connectorId);
    if (row && !row.revokedAt) row.revokedAt = now;
    return row;
  }
  async revokedCredentials() {
    return this.rows
      .filter((r) => r.revokedAt && r.natsUserPublicKey)
      .map((r) => ({
        id: r.id,
        tenantId: r.tenantId,
        natsUserPublicKey: r.natsUserPublicKey!,
        natsRevokedAt: r.natsRevokedAt,
      }));
  }
  async markNatsRevoked(connectorIds: string[], now: Date) {
    for (const row of this.rows) if (connectorIds.includes(row.id)) row.natsRevokedAt ??= now;
  }
}

/** Stands in for the NATS server's account: the keys it revokes; `failing` makes the server unreachable. */
class MemoryRevoker implements CredentialRevoker {
  readonly revoked = new Set<string>();
  failing = false;
  async revoke(keys: readonly string[]) {
    if (this.failing) throw new Error('nats: no responders');
    const added = keys.filter((key) => !this.revoked.has(key));
    for (const key of added) this.revoked.add(key);
    return { added };
  }
  closed = false;
  async close() {
    this.closed = true;
  }
}

function service(options: { issuer?: boolean; audit?: AuditRepository; revoker?: CredentialRevoker | null } = {}) {
  const repository = new MemoryConnectors();
  const account = createAccount();
  const issuer =
    options.issuer === false
      ? null
      : new ConnectorJwtIssuer({
          accountPublicKey: account.getPublicKey(),
          signingSeed: new TextDecoder().decode(account.getSeed()),
        });
  const audit = options.audit ?? { record: vi.fn(async () => ({ id: '1', at: NOW })), list: vi.fn() };
  const clock = { now: () => NOW };
  const revoker = options.revoker === undefined ? new MemoryRevoker() : options.revoker;
  const revocations = new ConnectorRevocations(repository, revoker, clock, silent as never);
  return {
    repository,
    audit,
    revocations,
    connectors: new ConnectorsService(repository, issuer, clock, audit, revocations, silent as never),
  };
}

const KEY_A = '0123456789abcdef';
const KEY_B = 'fedcba9876543210';

const request = (token: string, tenantKeyId = KEY_A) => ({
  token,
  natsPublicKey: createUser().getPublicKey(),
  capability: { receiveAs: 'yes' as const, warnings: [], checkedAt: NOW.toISOString() },
  agentVersion: '1.0.0',
  sourceKind: 'imap' as const,
  tenantKeyId,
});

async function refusalOf(promise: Promise<unknown>): Promise<ConnectorException> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorException);
  return error as ConnectorException;
}

describe('ConnectorsService', () => {
  it('stores only the hash of the token it returns', async () => {
    const { connectors, repository } = service();
    const created = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
    expect(repository.rows[0]?.enrolmentTokenHash).toBe(hashEnrolmentToken(created.enrolmentToken));
    expect(JSON.stringify(repository.rows)).not.toContain(created.enrolmentToken);
  });

  it('refuses a second connector of the same name in the tenant', async () => {
    const { connectors } = service();
    await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
    const refusal = await refusalOf(connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin'));
    expect(refusal.code).toBe(ConnectorErrorCode.NAME_TAKEN);
    expect(toServiceErrorReply(refusal)).toMatchObject({ code: 'conflict', field: 'name' });
  });

  it('does not spend the token when it cannot issue credentials', async () => {
    const { connectors, repository } = service({ issuer: false });
    const created = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
    const refusal = await refusalOf(connectors.enroll(request(created.enrolmentToken)));
    expect(refusal.code).toBe(ConnectorErrorCode.SIGNING_KEY_NOT_CONFIGURED);
    expect(refusal.message).toMatch(/the token was not used/);
    expect(repository.enrollCalls).toBe(0);
  });

  it('refuses a public key whose checksum is wrong before taking the token', async () => {
    const { connectors, repository } = service();
    const created = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
    const refusal = await refusalOf(
      connectors.enroll({ ...request(created.enrolmentToken), natsPublicKey: `U${'A'.repeat(55)}` }),
    );
    expect(toServiceErrorReply(refusal)).toMatchObject({ code: 'invalid_request', field: 'natsPublicKey' });
    expect(repository.enrollCalls).toBe(0);
  });

  it('refuses an agent configured for another mail system without spending the token, and audits it', async () => {
    const { connectors, repository, audit } = service();
    const created = await connectors.create({ tenantId: 'acme', name: 'M365', kind: 'graph' }, 'admin');
    const refusal = await refusalOf(connectors.enroll(request(created.enrolmentToken)));
    expect(refusal.code).toBe(ConnectorErrorCode.KIND_MISMATCH);
    expect(refusal.message).toBe(
      `sourceKind: connector ${created.connector.id} was created for Microsoft Graph (graph), but this agent is ` +
        'configured for an IMAP server (imap); create a connector of kind imap for it. The token was not used',
    );
    expect(toServiceErrorReply(refusal)).toMatchObject({ code: 'conflict', field: 'sourceKind' });
    expect(repository.enrollCalls).toBe(0);
    expect(repository.rows[0]?.enrolmentTokenUsedAt).toBeNull();
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({
        action: 'connector.enroll',
        outcome: 'denied',
        detail: expect.objectContaining({ reason: 'KIND_MISMATCH' }),
      }),
    );
  });

  it('names the reason of a refusal: revoked before used before expired', async () => {
    const { connectors, repository } = service();
    const created = await connectors.create(
      { tenantId: 'acme', name: 'HQ', kind: 'imap', enrolmentTtlMinutes: 5 },
      'a',
    );
    const row = repository.rows[0]!;
    row.enrolmentTokenExpiresAt = new Date(NOW.getTime() - 1);
    expect((await refusalOf(connectors.enroll(request(created.enrolmentToken)))).code).toBe(
      ConnectorErrorCode.TOKEN_EXPIRED,
    );
    row.enrolmentTokenUsedAt = new Date(NOW.getTime() - 10);
    expect((await refusalOf(connectors.enroll(request(created.enrolmentToken)))).code).toBe(
      ConnectorErrorCode.TOKEN_USED,
    );
    row.revokedAt = NOW;
    expect((await refusalOf(connectors.enroll(request(created.enrolmentToken)))).code).toBe(
      ConnectorErrorCode.CONNECTOR_REVOKED,
    );
    expect((await refusalOf(connectors.enroll(request(`mlr-enrol-${'B'.repeat(43)}`)))).code).toBe(
      ConnectorErrorCode.TOKEN_UNKNOWN,
    );
  });

  describe('one tenant key per tenant', () => {
    it("records the key of the tenant's first enrolment and lets later connectors with that key in", async () => {
      const { connectors, repository, audit } = service();
      const first = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
      const second = await connectors.create({ tenantId: 'acme', name: 'Branch', kind: 'imap' }, 'admin');
      await connectors.enroll(request(first.enrolmentToken, KEY_A));
      expect(repository.tenantKeys.get('acme')).toBe(KEY_A);
      const enrolment = await connectors.enroll(request(second.enrolmentToken, KEY_A));
      expect(enrolment.connectorId).toBe(second.connector.id);
      expect(audit.record).toHaveBeenLastCalledWith(
        expect.objectContaining({ outcome: 'success', detail: expect.objectContaining({ tenantKeyId: KEY_A }) }),
      );
    });

    it('refuses a connector that would use another key, says how to import the right one, keeps the token usable, and audits it', async () => {
      const { connectors, repository, audit } = service();
      const first = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
      const second = await connectors.create({ tenantId: 'acme', name: 'Branch', kind: 'imap' }, 'admin');
      await connectors.enroll(request(first.enrolmentToken, KEY_A));

      const refusal = await refusalOf(connectors.enroll(request(second.enrolmentToken, KEY_B)));
      expect(refusal.code).toBe(ConnectorErrorCode.TENANT_KEY_MISMATCH);
      expect(refusal.message).toBe(
        `tenantKeyId: the backups of tenant acme are sealed with tenant key ${KEY_A}, but this connector would use ` +
          `key ${KEY_B}; every connector of a tenant must use the tenant's key. Import it with --recovery-kit <file> ` +
          '(a recovery kit made by "connector export-recovery-kit" on a connector that has the key). The token was not used',
      );
      expect(toServiceErrorReply(refusal)).toMatchObject({ code: 'conflict', field: 'tenantKeyId' });
      const row = repository.rows.find((r) => r.id === second.connector.id)!;
      expect(row.enrolmentTokenUsedAt).toBeNull();
      expect(row.natsUserPublicKey).toBeNull();
      expect(repository.tenantKeys.get('acme')).toBe(KEY_A);
      expect(audit.record).toHaveBeenLastCalledWith(
        expect.objectContaining({
          tenantId: 'acme',
          action: 'connector.enroll',
          target: `connector:${second.connector.id}`,
          outcome: 'denied',
          detail: expect.objectContaining({ reason: 'TENANT_KEY_MISMATCH', tenantKeyId: KEY_B }),
        }),
      );

      // With the tenant's key (imported from the recovery kit), the same token enrols it.
      const enrolment = await connectors.enroll(request(second.enrolmentToken, KEY_A));
      expect(enrolment.connectorId).toBe(second.connector.id);
    });

    it("refuses another tenant's key at a tenant's first enrolment, recording nothing", async () => {
      const { connectors, repository } = service();
      const acme = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
      const globex = await connectors.create({ tenantId: 'globex', name: 'HQ', kind: 'imap' }, 'admin');
      await connectors.enroll(request(acme.enrolmentToken, KEY_A));
      const refusal = await refusalOf(connectors.enroll(request(globex.enrolmentToken, KEY_A)));
      expect(refusal.code).toBe(ConnectorErrorCode.TENANT_KEY_OF_ANOTHER_TENANT);
      expect(refusal.message).toMatch(
        new RegExp(`^tenantKeyId: key ${KEY_A} is the tenant key of another tenant.*a key is made for tenant globex`),
      );
      expect(refusal.message).not.toContain('acme');
      expect(toServiceErrorReply(refusal)).toMatchObject({ code: 'conflict', field: 'tenantKeyId' });
      expect(repository.tenantKeys.has('globex')).toBe(false);
      expect(repository.rows.find((r) => r.id === globex.connector.id)?.enrolmentTokenUsedAt).toBeNull();
    });

    it('names the token problem, not the key, when the token could not be used anyway', async () => {
      const { connectors, repository } = service();
      const first = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
      const second = await connectors.create({ tenantId: 'acme', name: 'Branch', kind: 'imap' }, 'admin');
      await connectors.enroll(request(first.enrolmentToken, KEY_A));
      repository.rows.find((r) => r.id === second.connector.id)!.enrolmentTokenExpiresAt = new Date(NOW.getTime() - 1);
      expect((await refusalOf(connectors.enroll(request(second.enrolmentToken, KEY_B)))).code).toBe(
        ConnectorErrorCode.TOKEN_EXPIRED,
      );
    });
  });

  it('still hands out the credentials when the audit trail cannot be written (the token is spent by then)', async () => {
    const failing: AuditRepository = {
      record: vi.fn(async () => {
        throw new Error('database gone');
      }),
      list: vi.fn(),
    };
    const { connectors } = service({ audit: failing });
    const created = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
    const enrolment = await connectors.enroll(request(created.enrolmentToken));
    expect(enrolment.userJwt.split('.')).toHaveLength(3);
    expect(failing.record).toHaveBeenCalledTimes(1);
  });

  describe('revoke', () => {
    async function enrolled(connectors: ConnectorsService) {
      const created = await connectors.create({ tenantId: 'acme', name: 'HQ', kind: 'imap' }, 'admin');
      const enrolment = request(created.enrolmentToken);
      await connectors.enroll(enrolment);
      return { id: created.connector.id, key: enrolment.natsPublicKey };
    }

    it("revokes the connector's NATS key on the server and says since when", async () => {
      const revoker = new MemoryRevoker();
      const { connectors } = service({ revoker });
      const { id, key } = await enrolled(connectors);
      const view = await connectors.revoke('acme', id, 'admin');
      expect(view.state).toBe('revoked');
      expect(view.natsRevokedAt).toBe(NOW.toISOString());
      expect([...revoker.revoked]).toEqual([key]);
    });

    it('keeps the connector revoked when the server cannot be reached, and the reconciler catches up', async () => {
      const revoker = new MemoryRevoker();
      revoker.failing = true;
      const { connectors, revocations } = service({ revoker });
      const { id, key } = await enrolled(connectors);
      const view = await connectors.revoke('acme', id, 'admin');
      expect(view.state).toBe('revoked');
      expect(view.natsRevokedAt).toBeNull();
      expect(revoker.revoked.size).toBe(0);

      revoker.failing = false;
      expect(await revocations.reconcile()).toBe(true);
      expect([...revoker.revoked]).toEqual([key]);
      expect((await connectors.get('acme', id)).natsRevokedAt).toBe(NOW.toISOString());
    });

    it('without revocation settings the connector is revoked here only, and the view says so', async () => {
      const { connectors, revocations } = service({ revoker: null });
      const { id } = await enrolled(connectors);
      const view = await connectors.revoke('acme', id, 'admin');
      expect(view.state).toBe('revoked');
      expect(view.natsRevokedAt).toBeNull();
      expect(revocations.enforced).toBe(false);
    });

    it('re-adds revocations the server lost (an account JWT pushed without them)', async () => {
      const revoker = new MemoryRevoker();
      const { connectors, revocations } = service({ revoker });
      const { id, key } = await enrolled(connectors);
      await connectors.revoke('acme', id, 'admin');
      revoker.revoked.clear();
      await revocations.reconcile();
      expect([...revoker.revoked]).toEqual([key]);
    });
  });
});
