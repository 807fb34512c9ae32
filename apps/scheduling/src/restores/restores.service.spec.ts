import { describe, expect, it } from 'vitest';
import type { JobCommand, ResolvedRecord } from '@mlr/contracts';
import type { JobDispatcher } from '../dispatch/job-dispatcher.js';
import type { ConnectorDirectory } from '../licensing/connector-directory.js';
import type { JobPurpose, MlrGate, MlrVerdict } from '../licensing/mlr-gate.js';
import type { RecordResolver } from './record-resolver.js';
import type { RestoreRepository } from './restore-items.repository.js';
import { RestoreErrorCode, RestoreException } from './restore.exception.js';
import { RestoresService } from './restores.service.js';

const item: ResolvedRecord = {
  recordId: 'r1',
  contentId: 'a'.repeat(64),
  mailbox: 'alice@acme.test',
  folder: 'INBOX',
  messageId: '<1@x>',
  subject: 'hello',
  internalDate: null,
  flags: { seen: true, answered: false, flagged: false, draft: false, deleted: false },
  keywords: [],
  size: 10,
  itemType: 'mail',
  form: 'rfc5322',
};

/** The service over fakes that record every step, so the order of checks and writes is visible. */
function serviceWith(verdict: MlrVerdict) {
  const steps: string[] = [];
  const purposes: Array<JobPurpose | undefined> = [];
  const repository = {
    createJob: async () => void steps.push('createJob'),
  } as unknown as RestoreRepository;
  const resolver: RecordResolver = {
    resolve: async () => {
      steps.push('resolve');
      return [item];
    },
  };
  const gate: MlrGate = {
    check: async (_tenant, purpose) => {
      steps.push('gate');
      purposes.push(purpose);
      return verdict;
    },
  };
  const dispatcher = {
    publish: async (command: JobCommand) => void steps.push(`publish:${command.kind}`),
  } as unknown as JobDispatcher;
  const clock = { now: () => new Date('2026-11-24T10:00:00Z') };
  const directory: ConnectorDirectory = {
    list: async () => [{ id: 'imap', revokedAt: null, enrolled: true }],
    lastKnown: () => undefined,
  };
  return { service: new RestoresService(repository, resolver, gate, dispatcher, clock, directory), steps, purposes };
}

const request = {
  tenantId: 'acme',
  // A tenant admin whose connector has "Receive As": the agent may act for them.
  requester: { actor: 'admin', role: 'tenant_admin' as const, visibleMailboxes: 'all' as const, serviceAccount: true },
  recordIds: ['r1'],
  target: { kind: 'original' as const },
  duplicate: false,
  runBy: 'connector' as const,
};

describe('RestoresService.create', () => {
  it('asks licensing for a restore (which still runs beyond the mailbox limit), then resolves, writes, publishes', async () => {
    const { service, steps, purposes } = serviceWith({ allowed: true });
    const accepted = await service.create(request);
    expect(accepted).toMatchObject({ state: 'queued', kind: 'restore', itemCount: 1, connectorId: 'imap' });
    expect(purposes).toEqual(['restore']);
    expect(steps).toEqual(['gate', 'resolve', 'createJob', 'publish:restore']);
  });

  it("does not publish a job the caller runs (the connector CLI with the owner's own credentials)", async () => {
    const { service, steps } = serviceWith({ allowed: true });
    const accepted = await service.create({ ...request, runBy: 'caller' });
    expect(accepted).toMatchObject({ state: 'queued', runBy: 'caller', requestedAt: '2026-11-24T10:00:00.000Z' });
    expect(steps).toEqual(['gate', 'resolve', 'createJob']);
  });

  it('reads and writes nothing when licensing refuses', async () => {
    const { service, steps } = serviceWith({ allowed: false, reason: 'mlr_disabled', message: 'MLR is not enabled' });
    const refusal = await service.create(request).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RestoreException);
    expect(refusal).toMatchObject({ code: RestoreErrorCode.MLR_NOT_ALLOWED, field: 'tenantId' });
    expect(steps).toEqual(['gate']);
  });

  it.each([
    ['a user', { actor: 'alice', role: 'user' as const, visibleMailboxes: ['alice@acme.test'], serviceAccount: false }],
    [
      'a tenant admin without "Receive As"',
      { actor: 'admin', role: 'tenant_admin' as const, visibleMailboxes: ['admin@acme.test'], serviceAccount: false },
    ],
  ])('refuses %s a restore through the agent before reading or writing anything', async (_who, requester) => {
    const { service, steps } = serviceWith({ allowed: true });
    const refusal = await service.create({ ...request, requester }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RestoreException);
    expect(refusal).toMatchObject({ code: RestoreErrorCode.OWN_CREDENTIALS_REQUIRED, field: 'runBy' });
    expect((refusal as Error).message).toContain('connector restore --own-credentials --login <address>');
    expect(steps).toEqual([]);

    // The same request run by the caller with the owner's own credentials is accepted, never published.
    const own = serviceWith({ allowed: true });
    const accepted = await own.service.create({ ...request, requester, runBy: 'caller' });
    expect(accepted).toMatchObject({ runBy: 'caller', kind: 'restore' });
    expect(own.steps).toEqual(['gate', 'resolve', 'createJob']);
  });

  it('refuses an operator before asking anyone', async () => {
    const { service, steps } = serviceWith({ allowed: true });
    const refusal = await service
      .create({ ...request, requester: { ...request.requester, role: 'operator' } })
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: RestoreErrorCode.FORBIDDEN });
    expect(steps).toEqual([]);
  });
});
