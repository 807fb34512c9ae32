import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY_WARNINGS } from '@mlr/contracts';
import {
  freePort,
  startDovecot,
  startTestIdentityProvider,
  type ImapInfo,
  type ServiceHandle,
  type TestIdentityProvider,
} from '@mlr/testing';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { openImapSession } from '../sources/imap/imap-session.js';
import { appTokenSource } from '../sources/microsoft365/app-token.js';
import { checkCapability } from './capability.js';

const MEGAN = 'megan@contoso.test';
const ROLE = 'IMAP.AccessAsApp';

/**
 * The Microsoft 365 check against a real IMAP server that takes app-only tokens the way Exchange
 * Online does (XOAUTH2, any mailbox for a token with IMAP.AccessAsApp), for the answers the
 * end-to-end test does not reach: a mailbox refusing the token, a server that does not answer.
 */
describe('Microsoft 365 capability check (real Dovecot, token endpoint stand-in)', () => {
  const app = { clientId: 'backup-app', clientSecret: 'backup-secret', roles: [ROLE] };
  let identity: TestIdentityProvider;
  let exchange: ServiceHandle<ImapInfo>;
  let dir: string;

  function source(overrides: Partial<ImapSourceConfig> = {}): ImapSourceConfig {
    return {
      kind: 'imap',
      host: exchange.info.host,
      port: exchange.info.port,
      secure: false,
      allowSelfSigned: false,
      microsoft365App: {
        tenant: identity.tenant,
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        authorityHost: identity.authorityHost,
        scope: 'https://outlook.office365.com/.default',
      },
      mailboxes: [{ address: MEGAN }],
      ...overrides,
    };
  }

  beforeAll(async () => {
    identity = await startTestIdentityProvider({ apps: [app] });
    dir = mkdtempSync(join(tmpdir(), 'mlr-m365-capability-'));
    exchange = await startDovecot({
      dir,
      users: [{ name: MEGAN, password: 'megan-password' }],
      oauth2: { introspectionUrl: identity.introspectionUrl, requiredScope: ROLE },
    });
  });

  afterAll(async () => {
    await exchange?.stop();
    await identity?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is "yes" when the app holds the permission and opens the mailbox', async () => {
    const report = await checkCapability(source());
    expect(report).toMatchObject({ receiveAs: 'yes', warnings: [] });
    expect(report.finding).toBe(`the app holds the application permission ${ROLE} and opened mailbox ${MEGAN}`);
  });

  it('is "no" when the mail server refuses the mailbox to a token that names the permission', async () => {
    // The permission withdrawn after the token was issued: the token still names it, the server
    // (like Exchange without FullAccess for the app) refuses it.
    const withdrawn = { clientId: 'withdrawn-app', clientSecret: 'withdrawn-secret', roles: [ROLE] };
    identity.register(withdrawn);
    const config = source();
    config.microsoft365App = { ...config.microsoft365App!, ...withdrawn };
    await appTokenSource(config.microsoft365App).token();
    identity.register({ ...withdrawn, roles: [] });
    const report = await checkCapability(config);
    expect(report).toMatchObject({ receiveAs: 'no', warnings: [CAPABILITY_WARNINGS.notFullAdministrator] });
    expect(report.finding).toMatch(
      new RegExp(
        `^the app holds the application permission ${ROLE}, but the mail server refused mailbox ${MEGAN}: ` +
          `IMAP login for mailbox ${MEGAN} .* failed: .*FullAccess on the mailbox \\(Add-MailboxPermission\\).*does not exist\\)$`,
      ),
    );
  });

  it('is "unknown" when the mail server does not answer, or no mailbox is there to try', async () => {
    const silent = await checkCapability(source({ port: await freePort() }));
    expect(silent).toMatchObject({ receiveAs: 'unknown', warnings: [CAPABILITY_WARNINGS.cannotVerify] });
    expect(silent.finding).toMatch(new RegExp(`^the app holds the application permission ${ROLE}, but could not open`));
    const none = await checkCapability(source({ mailboxes: [] }));
    expect(none).toMatchObject({ receiveAs: 'unknown' });
    expect(none.finding).toMatch(/no mailbox is configured to try it on \(use --probe-mailbox <address>\)/);
  });

  it('opens mailboxes only by name: an app has no session of its own', async () => {
    await expect(openImapSession(source())).rejects.toThrow(/a Microsoft 365 app opens mailboxes/);
  });
});
