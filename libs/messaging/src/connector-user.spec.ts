import { describe, expect, it } from 'vitest';
import { connectorPermissions } from '@mlr/contracts';
import { connectorUserClaims, connectorUserName } from './connector-user.js';

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
