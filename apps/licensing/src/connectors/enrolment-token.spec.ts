import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_WARNINGS, ENROLMENT_TOKEN_PATTERN, enrolmentRequestSchema } from '@mlr/contracts';
import {
  DEFAULT_ENROLMENT_TTL_MINUTES,
  enrolmentExpiry,
  hashEnrolmentToken,
  isEnrolmentExpired,
  newEnrolmentToken,
} from './enrolment-token.js';

describe('enrolment tokens', () => {
  it('are 256 random bits behind the mlr-enrol- prefix, never twice the same', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => newEnrolmentToken()));
    expect(tokens.size).toBe(200);
    for (const token of tokens) expect(token).toMatch(ENROLMENT_TOKEN_PATTERN);
  });

  it('are stored as their SHA-256 only, which does not contain the token', () => {
    const token = newEnrolmentToken();
    const hash = hashEnrolmentToken(token);
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(token.slice(10));
    expect(hashEnrolmentToken(token)).toBe(hash);
    expect(hashEnrolmentToken(newEnrolmentToken())).not.toBe(hash);
  });

  it('expire after 24 hours by default, or after the minutes asked for', () => {
    const now = new Date('2026-11-24T10:00:00.000Z');
    expect(DEFAULT_ENROLMENT_TTL_MINUTES).toBe(1440);
    expect(enrolmentExpiry(now).toISOString()).toBe('2026-11-25T10:00:00.000Z');
    expect(enrolmentExpiry(now, 30).toISOString()).toBe('2026-11-24T10:30:00.000Z');
  });

  it('are refused at and after the expiry instant, accepted a millisecond before', () => {
    const expiresAt = new Date('2026-11-24T10:00:00.000Z');
    expect(isEnrolmentExpired(expiresAt, new Date(expiresAt.getTime() - 1))).toBe(false);
    expect(isEnrolmentExpired(expiresAt, expiresAt)).toBe(true);
    expect(isEnrolmentExpired(expiresAt, new Date(expiresAt.getTime() + 60_000))).toBe(true);
  });

  it('are checked for shape before the service sees them', () => {
    const request = {
      token: newEnrolmentToken(),
      natsPublicKey: `U${'A'.repeat(55)}`,
      capability: { receiveAs: 'yes', warnings: [], checkedAt: '2026-11-24T10:00:00Z' },
      agentVersion: '0.1.0',
      sourceKind: 'imap',
      tenantKeyId: '0123456789abcdef',
    };
    expect(enrolmentRequestSchema.safeParse(request).success).toBe(true);
    const bad = enrolmentRequestSchema.safeParse({
      ...request,
      token: 'abc',
      natsPublicKey: 'SUAXXX',
      tenantKeyId: '0123456789ABCDEF',
    });
    expect(bad.success).toBe(false);
    const fields = bad.error?.issues.map((issue) => issue.path.join('.'));
    expect(fields).toEqual(['token', 'natsPublicKey', 'tenantKeyId']);
    expect(bad.error?.issues[0]?.message).toMatch(/enrolment token/);
    expect(bad.error?.issues[2]?.message).toMatch(/key id of a tenant key/);
    // An agent that does not say which key it seals with is not enrolled.
    const { tenantKeyId: _omitted, ...withoutKey } = request;
    expect(enrolmentRequestSchema.safeParse(withoutKey).error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'tenantKeyId',
    ]);
  });

  it("accept only the product's warnings, as the finding implies", () => {
    const capability = (receiveAs: string, warnings: string[]) =>
      enrolmentRequestSchema.safeParse({
        token: newEnrolmentToken(),
        natsPublicKey: `U${'A'.repeat(55)}`,
        capability: { receiveAs, warnings, checkedAt: '2026-11-24T10:00:00Z' },
        agentVersion: '0.1.0',
        sourceKind: 'imap',
        tenantKeyId: '0123456789abcdef',
      }).error?.issues[0]?.message ?? 'ok';
    expect(capability('yes', [])).toBe('ok');
    expect(capability('no', [CAPABILITY_WARNINGS.notFullAdministrator])).toBe('ok');
    expect(capability('no', [CAPABILITY_WARNINGS.notDomainAdmin, CAPABILITY_WARNINGS.notFullAdministrator])).toBe('ok');
    expect(capability('unknown', [CAPABILITY_WARNINGS.cannotVerify])).toBe('ok');
    expect(capability('yes', [CAPABILITY_WARNINGS.cannotVerify])).toMatch(/empty when receiveAs is "yes"/);
    expect(capability('unknown', [])).toMatch(/exactly the "cannot verify" warning/);
    expect(capability('no', [])).toMatch(/name what the service account lacks/);
    expect(capability('no', ['all good, trust me'])).toMatch(/product's capability warnings; not one: all good/);
  });
});
