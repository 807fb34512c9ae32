import { describe, expect, it } from 'vitest';
import { CAPABILITY_WARNINGS } from '@mlr/contracts';
import {
  capabilityWarnings,
  checkImapCapability,
  checkSourcesCapability,
  microsoft365Permission,
} from './capability.js';

const now = new Date('2026-11-24T10:00:00.000Z');

describe('service-account warnings', () => {
  it('gives none when the account has "Receive As"', () => {
    expect(capabilityWarnings('yes')).toEqual([]);
  });

  it('says that only users with "Receive As" can back up other mailboxes when the account has not', () => {
    expect(capabilityWarnings('no')).toEqual([CAPABILITY_WARNINGS.notFullAdministrator]);
  });

  it('says a non-domain-admin account will grant itself the right (Exchange), and the caution when not full admin', () => {
    expect(capabilityWarnings('no', { isDomainAdmin: false, isFullAdministrator: false })).toEqual([
      CAPABILITY_WARNINGS.notDomainAdmin,
      CAPABILITY_WARNINGS.notFullAdministrator,
    ]);
    expect(capabilityWarnings('no', { isDomainAdmin: false, isFullAdministrator: true })).toEqual([
      CAPABILITY_WARNINGS.notDomainAdmin,
    ]);
  });

  it('gives the same caution when it cannot verify', () => {
    expect(capabilityWarnings('unknown')).toEqual([CAPABILITY_WARNINGS.cannotVerify]);
    expect(CAPABILITY_WARNINGS.cannotVerify).toMatch(/only users that hold the "Receive As" right/);
  });
});

describe('IMAP capability check without a server to ask', () => {
  const source = {
    kind: 'imap' as const,
    host: '127.0.0.1',
    port: 1,
    secure: false,
    allowSelfSigned: false,
    mailboxes: [{ address: 'alice' }],
  };

  it('answers "no" without a service account: every mailbox uses its own credentials', async () => {
    const report = await checkImapCapability(source, { now: () => now });
    expect(report).toMatchObject({ receiveAs: 'no', checkedAt: now.toISOString() });
    expect(report.warnings).toEqual([CAPABILITY_WARNINGS.notFullAdministrator]);
  });

  it('answers "unknown" when there is no other mailbox to try', async () => {
    const report = await checkImapCapability(
      { ...source, serviceAccount: { user: 'alice', password: 'x' } },
      { now: () => now },
    );
    expect(report.receiveAs).toBe('unknown');
    expect(report.finding).toMatch(/--probe-mailbox/);
  });

  it('answers "unknown" (cannot verify) when the server cannot be reached', async () => {
    const report = await checkImapCapability(
      { ...source, serviceAccount: { user: 'backup', password: 'x' } },
      { now: () => now },
    );
    expect(report.receiveAs).toBe('unknown');
    expect(report.warnings).toEqual([CAPABILITY_WARNINGS.cannotVerify]);
    expect(report.finding).toMatch(/could not log in/);
  });
});

describe('Microsoft 365 app permission', () => {
  it('is granted by the application permission IMAP.AccessAsApp', () => {
    expect(microsoft365Permission({ roles: ['User.Read.All', 'IMAP.AccessAsApp'] })).toEqual({
      granted: true,
      finding: 'the app holds the application permission IMAP.AccessAsApp',
    });
  });

  it('is not granted by delegated permissions, other application permissions, or none', () => {
    const delegated = microsoft365Permission({ scp: 'IMAP.AccessAsUser.All User.Read' });
    expect(delegated.granted).toBe(false);
    expect(delegated.finding).toMatch(/delegated permissions only \(IMAP.AccessAsUser.All User.Read\)/);
    const other = microsoft365Permission({ roles: ['Mail.Read'] });
    expect(other).toMatchObject({ granted: false });
    expect(other.finding).toMatch(/\(Mail.Read\) do not include IMAP.AccessAsApp/);
    const none = microsoft365Permission({});
    expect(none.granted).toBe(false);
    expect(none.finding).toMatch(/no application permission: grant it IMAP.AccessAsApp/);
  });
});

describe('the check of a connector with several sources', () => {
  const imap = (name: string, more: Record<string, unknown>) =>
    ({
      name,
      kind: 'imap',
      host: '127.0.0.1',
      port: 1,
      secure: false,
      allowSelfSigned: false,
      mailboxes: [],
      ...more,
    }) as never;

  it("answers no when one source cannot open other mailboxes, naming each source's finding", async () => {
    const checked = await checkSourcesCapability(
      [
        imap('homes', { mailboxes: [{ address: 'carol@home.example', password: 'own' }] }),
        // A service account and only its own mailbox: cannot be tried, unknown.
        imap('onprem', { serviceAccount: { user: 'backup', password: 'x' }, mailboxes: [{ address: 'backup' }] }),
      ],
      { now: () => now },
    );
    expect(checked.receiveAs).toBe('no');
    expect(checked.warnings).toEqual(capabilityWarnings('no'));
    expect(checked.finding).toMatch(
      /^source homes: receive-as no: no service account is configured.*; source onprem: receive-as unknown: /,
    );
    expect(checked.checkedAt).toBe(now.toISOString());
  });

  it('answers unknown when no source says no but one cannot be verified', async () => {
    const checked = await checkSourcesCapability(
      [
        imap('a', { serviceAccount: { user: 'backup', password: 'x' }, mailboxes: [{ address: 'backup' }] }),
        imap('b', { serviceAccount: { user: 'backup', password: 'x' }, mailboxes: [{ address: 'backup' }] }),
      ],
      { now: () => now },
    );
    expect(checked.receiveAs).toBe('unknown');
    expect(checked.warnings).toEqual([CAPABILITY_WARNINGS.cannotVerify]);
  });
});
