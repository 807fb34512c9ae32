import { describe, expect, it } from 'vitest';
import { connectorPermissions } from '@mlr/contracts';
import { connectorUserClaims, connectorUserName, outdatedClaims } from './connector-user.js';

describe('connectorUserClaims', () => {
  it("allows exactly the tenant's connector permissions and tags tenant and connector", () => {
    const permissions = connectorPermissions('acme', 'imap-1');
    expect(connectorUserClaims('acme', 'imap-1')).toEqual({
      pub: { allow: permissions.publish },
      sub: { allow: permissions.subscribe },
      subs: 100,
      payload: 1024 * 1024,
      data: -1,
      tags: ['tenant:acme', 'connector:imap-1'],
    });
    expect(connectorUserName('acme', 'imap-1')).toBe('connector-acme-imap-1');
  });
});

describe("a connector's NATS claims against this build's", () => {
  const current = connectorUserClaims('acme', 'imap-1');

  it('are up to date when they are what enrolment gives now, in any order', () => {
    expect(outdatedClaims(current, 'acme', 'imap-1')).toEqual([]);
    const reordered = { ...current, pub: { allow: [...(current.pub?.allow ?? [])].reverse() } };
    expect(outdatedClaims(reordered, 'acme', 'imap-1')).toEqual([]);
  });

  it('name what a JWT from an older build lacks: a permission, the limits', () => {
    const older = {
      pub: { allow: (current.pub?.allow ?? []).filter((subject) => !subject.endsWith('.sightings')) },
      sub: current.sub,
      subs: -1,
      payload: -1,
    };
    expect(outdatedClaims(older, 'acme', 'imap-1')).toEqual([
      'publish permissions',
      'subscription limit',
      'payload limit',
    ]);
    expect(outdatedClaims({}, 'acme', 'imap-1')).toEqual([
      'publish permissions',
      'subscribe permissions',
      'subscription limit',
      'payload limit',
    ]);
  });

  it("are another connector's when they name another tenant or connector", () => {
    expect(outdatedClaims(current, 'globex', 'imap-1')).toContain('publish permissions');
  });
});
