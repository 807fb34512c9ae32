import { ImapFlow } from 'imapflow';
import type { ImapSourceConfig } from '../../config/connector-config.js';
import { appTokenSource, IMAP_APP_ROLE } from '../microsoft365/app-token.js';

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

/**
 * How `mailbox` is opened: with its own password; with the Microsoft 365 app's token (XOAUTH2,
 * the mailbox's address as user); or through the service account (master user, SASL PLAIN with the
 * mailbox as authorisation identity, the IMAP form of "Receive As"). Without `mailbox`, the service
 * account's own session.
 */
async function sessionAuth(
  source: ImapSourceConfig,
  options: { mailbox?: string; ownPassword?: string },
): Promise<SessionAuth> {
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
  options: { mailbox?: string; ownPassword?: string; clientName?: string } = {},
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
    const detail = (error as { responseText?: string }).responseText ?? (error as Error).message;
    const refused = (error as { authenticationFailed?: boolean }).authenticationFailed === true;
    const who = options.mailbox ? `mailbox ${options.mailbox}` : 'the service account';
    const hint =
      refused && 'accessToken' in auth
        ? ` (the app needs the ${IMAP_APP_ROLE} application permission with admin consent, a service principal in Exchange Online and FullAccess on the mailbox)`
        : '';
    throw new ImapLoginError(
      `IMAP login for ${who} at ${source.host}:${source.port} failed: ${detail}${hint}`,
      refused,
    );
  }
  return client;
}
