import { CAPABILITY_WARNINGS, type ConnectorCapability, type ReceiveAsCapability } from '@mlr/contracts';
import type { ImapSourceConfig } from '../config/connector-config.js';
import { openImapSession } from '../sources/imap/imap-session.js';

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
    refusal = (error as Error).message;
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

/** Application permissions of Microsoft Graph that let an app read and write every mailbox. */
const GRAPH_MAILBOX_ROLES = ['Mail.ReadWrite', 'full_access_as_app'];

/**
 * Microsoft 365: does the app hold application (not delegated) mail permissions? Reads the claims
 * of an app-only access token: application permissions arrive as `roles`; delegated permissions
 * (`scp`) act as one signed-in user only, so they do not count.
 */
export function graphCapability(claims: { roles?: unknown; scp?: unknown }, now: Date = new Date()): CapabilityReport {
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  const granted = roles.filter((role) => GRAPH_MAILBOX_ROLES.includes(role));
  if (granted.length > 0) {
    return report('yes', `the app holds the application permission ${granted.join(', ')}`, now);
  }
  if (typeof claims.scp === 'string' && claims.scp.length > 0) {
    return report(
      'no',
      `the app holds delegated permissions only (${claims.scp}): it acts as one user, not on every mailbox`,
      now,
    );
  }
  if (roles.length > 0) {
    return report('no', `the app's application permissions (${roles.join(', ')}) include no mail permission`, now);
  }
  return report('unknown', 'the access token names no permissions', now);
}
