import { ForbiddenException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.js';
import { ServiceRefusal, ServiceUnavailable } from '../services/service-client.js';
import { auditEventOf, defaultTarget } from './audit-event.js';

const user: Principal = { sub: 'alice@acme', role: 'user', tenant: 'acme', mailboxes: ['alice@acme'] };
const operator: Principal = { sub: 'ops@msp', role: 'operator', tenant: null, mailboxes: [] };

const base = { method: 'POST', path: '/v1/tenants/acme/search', notes: {} };

describe('auditEventOf', () => {
  it('records a success with the principal, the tenant and the notes', () => {
    const event = auditEventOf({
      ...base,
      route: { action: 'search' },
      principal: user,
      params: { tenantId: 'acme' },
      notes: { mailboxes: ['alice@acme'] },
      outcome: { ok: true, result: { items: [] } },
    });
    expect(event).toEqual({
      tenantId: 'acme',
      actor: 'alice@acme',
      role: 'user',
      action: 'search',
      target: 'tenant:acme',
      outcome: 'success',
      detail: { request: 'POST /v1/tenants/acme/search', mailboxes: ['alice@acme'] },
    });
  });

  it('records a 403 as denied with its reason, under the actor’s own tenant', () => {
    const event = auditEventOf({
      ...base,
      path: '/v1/tenants/globex/search',
      route: { action: 'search' },
      principal: user,
      params: { tenantId: 'globex' },
      outcome: { ok: false, error: new ForbiddenException('your token is for tenant "acme"') },
    });
    expect(event).toMatchObject({
      tenantId: 'acme',
      outcome: 'denied',
      detail: { requestedTenant: 'globex', status: 403, reason: 'your token is for tenant "acme"' },
    });
  });

  it('records service refusals and silences as failures, a forbidden refusal as denied', () => {
    const failure = (error: unknown) =>
      auditEventOf({
        ...base,
        route: { action: 'plan.run' },
        principal: operator,
        params: { tenantId: 'acme', planId: 'p1' },
        outcome: { ok: false, error },
      });
    expect(failure(new NotFoundException('no such plan'))).toMatchObject({
      tenantId: 'acme',
      target: 'plan:p1',
      outcome: 'failure',
      detail: { status: 404, reason: 'no such plan' },
    });
    expect(failure(new ServiceUnavailable('mlr.svc.scheduling.plans.run', 'no answer'))).toMatchObject({
      outcome: 'failure',
      detail: { status: 503 },
    });
    expect(
      failure(new ServiceRefusal('mlr.svc.indexing.records.resolve', { code: 'forbidden', message: 'not yours' })),
    ).toMatchObject({ outcome: 'denied', detail: { status: 403, reason: 'not yours' } });
  });

  it('records platform-wide operator actions without a tenant', () => {
    const event = auditEventOf({
      ...base,
      path: '/v1/tenants',
      route: { action: 'tenant.create', target: (_p, result) => `tenant:${(result as { id: string }).id}` },
      principal: operator,
      params: {},
      outcome: { ok: true, result: { id: 'acme' } },
    });
    expect(event).toMatchObject({ tenantId: null, target: 'tenant:acme', role: 'operator', outcome: 'success' });
  });
});

describe('defaultTarget', () => {
  it('names the most specific id of the path, else the id of the result', () => {
    expect(defaultTarget({ tenantId: 't', planId: 'p' }, undefined)).toBe('plan:p');
    expect(defaultTarget({ tenantId: 't', jobId: 'j' }, undefined)).toBe('job:j');
    expect(defaultTarget({}, { jobId: 'j2' })).toBe('job:j2');
    expect(defaultTarget({}, null)).toBeNull();
  });
});
