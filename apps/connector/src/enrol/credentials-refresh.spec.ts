import { describe, expect, it } from 'vitest';
import { connectorUserClaims } from '@mlr/messaging';
import { outdatedClaims } from './credentials-refresh.js';

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
