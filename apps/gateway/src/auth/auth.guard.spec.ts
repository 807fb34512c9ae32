import { describe, expect, it } from 'vitest';
import { refusalOf } from './auth.guard.js';
import type { Principal } from './principal.js';

const operator: Principal = { sub: 'ops@msp', role: 'operator', tenant: null, mailboxes: [] };
const admin: Principal = { sub: 'admin@acme', role: 'tenant_admin', tenant: 'acme', mailboxes: ['admin@acme'] };
const user: Principal = { sub: 'alice@acme', role: 'user', tenant: 'acme', mailboxes: ['alice@acme'] };

describe('refusalOf', () => {
  it('lets a role of the route through, on its own tenant', () => {
    expect(refusalOf(user, ['tenant_admin', 'user'], 'acme')).toBeNull();
    expect(refusalOf(admin, ['operator', 'tenant_admin'], 'acme')).toBeNull();
    expect(refusalOf(operator, ['operator'], undefined)).toBeNull();
  });

  it('lets an operator reach any tenant of an operator route', () => {
    expect(refusalOf(operator, ['operator', 'tenant_admin'], 'acme')).toBeNull();
  });

  it('refuses another role, saying who the route is for', () => {
    expect(refusalOf(operator, ['tenant_admin', 'user'], 'acme')).toBe(
      'an operator may not do this: it is for tenant admins and users',
    );
    expect(refusalOf(user, ['operator'], undefined)).toBe('a user may not do this: it is for operators');
  });

  it('refuses a tenant admin or user on another tenant', () => {
    expect(refusalOf(admin, ['tenant_admin'], 'globex')).toBe(
      'your token is for tenant "acme", not for tenant "globex"',
    );
    expect(refusalOf(user, ['user'], 'globex')).toMatch(/not for tenant "globex"/);
  });

  it('refuses everyone on a route that names no role (closed by default)', () => {
    expect(refusalOf(operator, undefined, undefined)).toBe('this route is not open to any role');
    expect(refusalOf(admin, [], 'acme')).toBe('this route is not open to any role');
  });
});
