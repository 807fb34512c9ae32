import { CAPABILITY_WARNINGS, type ConnectorCapability, type ReceiveAsCapability } from '@mlr/contracts';
import type { ImapSourceConfig, NamedSourceConfig } from '../config/connector-config.js';
import type { ImapFlow } from 'imapflow';
import { imapErrorText, ImapLoginError, openImapSession } from '../sources/imap/imap-session.js';
import { appTokenSource, IMAP_APP_ROLE, tokenRoles, type IssuedToken } from '../sources/microsoft365/app-token.js';

/** What the check found, in words as well as the recorded capability. */
export interface CapabilityReport extends ConnectorCapability {
  /** One sentence: how the check came to its answer. */
  finding: string;
}

/**
 * The product's warnings for what was found. `yes`: none. `no`: the service account cannot open
 * other mailboxes; where the mail system lets an administrator grant the right (Exchange), a
 * domain-admin account grants it itself, otherwise only users with "Receive As" back up other
 * mailboxes. `unknown`: the same caution, because it could not be verified.
 */
export function capabilityWarnings(
  receiveAs: ReceiveAsCapability,
  account: { isDomainAdmin?: boolean; isFullAdministrator?: boolean } = {},
): string[] {
  if (receiveAs === 'yes') return [];
  if (receiveAs === 'unknown') return [CAPABILITY_WARNINGS.cannotVerify];
  const warnings: string[] = [];
  if (account.isDomainAdmin === false) warnings.push(CAPABILITY_WARNINGS.notDomainAdmin);
  if (!account.isDomainAdmin && !account.isFullAdministrator) warnings.push(CAPABILITY_WARNINGS.notFullAdministrator);
  return warnings;
}

function report(receiveAs: ReceiveAsCapability, finding: string, now: Date): CapabilityReport {
  return { receiveAs, warnings: capabilityWarnings(receiveAs), checkedAt: now.toISOString(), finding };
}

/**
 * IMAP: can the service account (master user) open a mailbox other than its own? It logs in on
 * behalf of `probeMailbox` (SASL PLAIN authorisation identity, the IMAP form of "Receive As"). When
 * that is refused it logs in as itself: if that works the answer is "no"; if not (wrong password,
 * server unreachable) it cannot tell, "unknown". (A master user may be unable to log in as itself,
 * so the own login is not tried first.)
 */
export async function checkImapCapability(
  source: ImapSourceConfig,
  options: { probeMailbox?: string; now?: () => Date } = {},
): Promise<CapabilityReport> {
  const now = options.now ?? (() => new Date());
  const account = source.serviceAccount;
  if (!account) {
    return report('no', 'no service account is configured: every mailbox is read with its own credentials', now());
  }
  const probe =
    options.probeMailbox ??
    source.mailboxes.map((mailbox) => mailbox.address).find((address) => address !== account.user);
  if (!probe) {
    return report(
      'unknown',
      "no mailbox other than the service account's own is configured to try (use --probe-mailbox <address>)",
      now(),
    );
  }
  let refusal: string;
  try {
    const other = await openImapSession(source, { mailbox: probe, clientName: 'mlr-connector-enrol' });
    await other.mailboxOpen('INBOX', { readOnly: true });
    await other.logout().catch(() => undefined);
    return report('yes', `the service account opened mailbox ${probe}, which is not its own`, now());
  } catch (error) {
    refusal = imapErrorText(error);
  }
  // Refused: a "no" only if the account itself is fine (right password, server reachable).
  try {
    const own = await openImapSession(source, { clientName: 'mlr-connector-enrol' });
    await own.logout().catch(() => undefined);
  } catch (error) {
    return report(
      'unknown',
      `the service account could not log in, neither for mailbox ${probe} (${refusal}) nor as itself (${(error as Error).message})`,
      now(),
    );
  }
  return report('no', `the service account logs in but cannot open mailbox ${probe}: ${refusal}`, now());
}

/**
 * Microsoft 365: does the app hold an application (not delegated) permission to open every mailbox
 * over IMAP? Application permissions arrive in an app-only token's `roles`; delegated ones (`scp`)
 * act as one signed-in user only, so they do not count; Entra omits `roles` when none is granted.
 */
export function microsoft365Permission(claims: Record<string, unknown>): { granted: boolean; finding: string } {
  const roles = tokenRoles(claims);
  if (roles.includes(IMAP_APP_ROLE)) {
    return { granted: true, finding: `the app holds the application permission ${IMAP_APP_ROLE}` };
  }
  const delegated = claims['scp'];
  if (typeof delegated === 'string' && delegated.length > 0) {
    return {
      granted: false,
      finding: `the app holds delegated permissions only (${delegated}): they act as one signed-in user, not on every mailbox`,
    };
  }
  if (roles.length > 0) {
    return {
      granted: false,
      finding: `the app's application permissions (${roles.join(', ')}) do not include ${IMAP_APP_ROLE}`,
    };
  }
  return {
    granted: false,
    finding: `the app holds no application permission: grant it ${IMAP_APP_ROLE} (Office 365 Exchange Online) with admin consent`,
  };
}

/**
 * Microsoft 365 (an app instead of a service account): the app signs in (client credentials), its
 * token must carry the application permission, and it must open a mailbox with it: Exchange also
 * needs the app's service principal to hold FullAccess on the mailbox. Sign-in failing, or the
 * mailbox unreachable, leaves it "unknown"; a permission missing or a mailbox refusing the token, "no".
 */
export async function checkMicrosoft365Capability(
  source: ImapSourceConfig,
  options: { probeMailbox?: string; now?: () => Date } = {},
): Promise<CapabilityReport> {
  const now = options.now ?? (() => new Date());
  const app = source.microsoft365App;
  if (!app) return report('no', 'no Microsoft 365 app is configured', now());
  let token: IssuedToken;
  try {
    token = await appTokenSource(app).token();
  } catch (error) {
    return report('unknown', `the app could not sign in: ${(error as Error).message}`, now());
  }
  let permission = 'the app signed in (its token names no permissions)';
  if (token.claims) {
    const found = microsoft365Permission(token.claims);
    if (!found.granted) return report('no', found.finding, now());
    permission = found.finding;
  }
  const probe = options.probeMailbox ?? source.mailboxes[0]?.address;
  if (!probe) {
    return report(
      'unknown',
      `${permission}, but no mailbox is configured to try it on (use --probe-mailbox <address>)`,
      now(),
    );
  }
  let session: ImapFlow;
  try {
    session = await openImapSession(source, { mailbox: probe, clientName: 'mlr-connector-enrol' });
  } catch (error) {
    const refused = error instanceof ImapLoginError && error.refused;
    return report(
      refused ? 'no' : 'unknown',
      `${permission}, but ${refused ? 'the mail server refused' : 'could not open'} mailbox ${probe}: ${(error as Error).message}`,
      now(),
    );
  }
  try {
    await session.mailboxOpen('INBOX', { readOnly: true });
    return report('yes', `${permission} and opened mailbox ${probe}`, now());
  } catch (error) {
    // Exchange Online takes the token, then answers "User is authenticated but not connected" when
    // the app's service principal has no access to the mailbox.
    const answered = (error as { responseText?: string }).responseText !== undefined;
    return report(
      answered ? 'no' : 'unknown',
      `${permission} and signed in for mailbox ${probe}, but ${answered ? 'the mail server refused to open' : 'could not open'} ` +
        `its INBOX: ${imapErrorText(error)}${answered ? " (the app's service principal needs FullAccess on the mailbox: Add-MailboxPermission)" : ''}`,
      now(),
    );
  } finally {
    await session.logout().catch(() => undefined);
  }
}

/** The check that fits the source: the Microsoft 365 app's, or the IMAP service account's. */
export function checkCapability(
  source: ImapSourceConfig,
  options: { probeMailbox?: string; now?: () => Date } = {},
): Promise<CapabilityReport> {
  return source.microsoft365App ? checkMicrosoft365Capability(source, options) : checkImapCapability(source, options);
}

/**
 * The check of a connector with several sources: each source's own, and one answer for the connector
 * (licensing records one): `yes` only when every source can open other mailboxes, `no` when one
 * cannot, else `unknown`. `probe` is tried on the source that holds it (`source`, an index).
 */
export async function checkSourcesCapability(
  sources: readonly NamedSourceConfig[],
  options: { probe?: { mailbox: string; source: number }; now?: () => Date } = {},
): Promise<CapabilityReport> {
  const now = options.now ?? (() => new Date());
  if (sources.length === 1) {
    return checkCapability(sources[0] as NamedSourceConfig, {
      ...(options.probe ? { probeMailbox: options.probe.mailbox } : {}),
      now,
    });
  }
  const found: string[] = [];
  const answers: ReceiveAsCapability[] = [];
  for (const [index, source] of sources.entries()) {
    const checked = await checkCapability(source, {
      ...(options.probe?.source === index ? { probeMailbox: options.probe.mailbox } : {}),
      now,
    });
    answers.push(checked.receiveAs);
    found.push(`source ${source.name}: receive-as ${checked.receiveAs}: ${checked.finding}`);
  }
  const receiveAs: ReceiveAsCapability = answers.every((answer) => answer === 'yes')
    ? 'yes'
    : answers.includes('no')
      ? 'no'
      : 'unknown';
  return report(receiveAs, found.join('; '), now());
}
