import { ImapFlow } from 'imapflow';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { appTokenSource, IMAP_APP_ROLE, readJwtClaims } from '../microsoft365/app-token.js';

/** What Exchange Online needs before it takes the app's token for a mailbox. */
const APP_TOKEN_HINT =
  ` (Exchange Online takes the app's token for a mailbox once the app holds the ${IMAP_APP_ROLE} application ` +
  'permission with admin consent, its service principal is registered (New-ServicePrincipal with the Object ID ' +
  'of the Enterprise application) and has FullAccess on the mailbox (Add-MailboxPermission), and IMAP is enabled ' +
  'for the mailbox (Set-CASMailbox -ImapEnabled $true); or the mailbox does not exist)';
const OWN_TOKEN_HINT =
  " (the sign-in must be the mailbox owner's, or of someone with FullAccess on it, and IMAP enabled for the mailbox)";

/** The server's own words for a refused command when it gave them, else the error's message. */
export function imapErrorText(error: unknown): string {
  return (error as { responseText?: string }).responseText ?? (error as Error).message;
}

export class ImapLoginError extends Error {
  override readonly name = 'ImapLoginError';
  constructor(
    message: string,
    /** The server refused the credentials (as opposed to not being reached or not answering). */
    readonly refused = false,
  ) {
    super(message);
  }
}

type SessionAuth = { user: string; pass: string; authzid?: string } | { user: string; accessToken: string };

/** Which mailbox a session opens, and the owner's own credentials when it is not the service account's doing. */
export interface MailboxLogin {
  mailbox?: string;
  ownPassword?: string;
  /** The owner's own Microsoft 365 sign-in (delegated token), for this run only. */
  ownAccessToken?: string;
}

/** How `mailbox` of the source is opened: with the owner's credentials if configured, else for them. */
export function mailboxLogin(source: ImapSourceConfig, mailbox: string): MailboxLogin & { mailbox: string } {
  // Addresses compare without case, as the connector routes them to their source.
  const configured = source.mailboxes.find((m) => m.address.toLowerCase() === mailbox.toLowerCase());
  return {
    mailbox,
    ...(configured?.password ? { ownPassword: configured.password } : {}),
    ...(configured?.accessToken ? { ownAccessToken: configured.accessToken } : {}),
  };
}

/**
 * How `mailbox` is opened: with the owner's own password or Microsoft 365 sign-in; with the
 * Microsoft 365 app's token (XOAUTH2, the mailbox's address as user); or through the service account (master user, SASL PLAIN with the
 * mailbox as authorisation identity, the IMAP form of "Receive As"). Without `mailbox`, the service
 * account's own session.
 */
async function sessionAuth(source: ImapSourceConfig, options: MailboxLogin): Promise<SessionAuth> {
  if (options.ownAccessToken) {
    const expires = readJwtClaims(options.ownAccessToken)?.['exp'];
    if (typeof expires === 'number' && expires * 1000 <= Date.now()) {
      throw new ImapLoginError(
        `the Microsoft 365 sign-in for mailbox ${options.mailbox ?? ''} expired at ${new Date(expires * 1000).toISOString()} ` +
          '(a sign-in lasts about an hour): run the command again and sign in',
      );
    }
    return { user: options.mailbox ?? '', accessToken: options.ownAccessToken };
  }
  if (options.ownPassword) return { user: options.mailbox ?? '', pass: options.ownPassword };
  if (source.microsoft365App) {
    if (!options.mailbox) {
      throw new ImapLoginError('a Microsoft 365 app opens mailboxes, not a session of its own: name the mailbox');
    }
    const token = await appTokenSource(source.microsoft365App).token();
    return { user: options.mailbox, accessToken: token.accessToken };
  }
  if (source.serviceAccount) {
    return {
      user: source.serviceAccount.user,
      pass: source.serviceAccount.password,
      ...(options.mailbox ? { authzid: options.mailbox } : {}),
    };
  }
  throw new ImapLoginError(
    `no credentials for mailbox ${options.mailbox ?? '(service account)'}: configure a service account, a Microsoft 365 app or the mailbox's own password`,
  );
}

/** Opens an IMAP session for `mailbox` (see sessionAuth for whose credentials). */
export async function openImapSession(
  source: ImapSourceConfig,
  options: MailboxLogin & { clientName?: string } = {},
): Promise<ImapFlow> {
  const auth = await sessionAuth(source, options);
  const client = new ImapFlow({
    host: source.host,
    port: source.port,
    secure: source.secure,
    auth,
    logger: false,
    clientInfo: { name: options.clientName ?? 'mlr-connector' },
    tls: { rejectUnauthorized: !source.allowSelfSigned },
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
    socketTimeout: 120_000,
  });
  // Errors after connect surface on the next command; without a listener they would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const detail = imapErrorText(error);
    const refused = (error as { authenticationFailed?: boolean }).authenticationFailed === true;
    const who = options.mailbox ? `mailbox ${options.mailbox}` : 'the service account';
    const hint = !refused || !('accessToken' in auth) ? '' : options.ownAccessToken ? OWN_TOKEN_HINT : APP_TOKEN_HINT;
    throw new ImapLoginError(
      `IMAP login for ${who} at ${source.host}:${source.port} failed: ${detail}${hint}`,
      refused,
    );
  }
  return client;
}
