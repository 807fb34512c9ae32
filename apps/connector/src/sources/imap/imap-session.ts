import { ImapFlow } from 'imapflow';
import type { ImapSourceConfig } from '../../config/connector-config.js';

export class ImapLoginError extends Error {
  override readonly name = 'ImapLoginError';
}

/**
 * Opens an IMAP session for `mailbox`: through the service account (master user, SASL PLAIN with
 * the mailbox as authorisation identity, the IMAP form of "Receive As"), or with the mailbox's own
 * credentials. Without `mailbox`, the service account's own session.
 */
export async function openImapSession(
  source: ImapSourceConfig,
  options: { mailbox?: string; ownPassword?: string; clientName?: string } = {},
): Promise<ImapFlow> {
  const auth = options.ownPassword
    ? { user: options.mailbox ?? '', pass: options.ownPassword }
    : source.serviceAccount
      ? {
          user: source.serviceAccount.user,
          pass: source.serviceAccount.password,
          ...(options.mailbox ? { authzid: options.mailbox } : {}),
        }
      : undefined;
  if (!auth) {
    throw new ImapLoginError(
      `no credentials for mailbox ${options.mailbox ?? '(service account)'}: configure a service account or the mailbox's own password`,
    );
  }
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
    const who = options.mailbox ? `mailbox ${options.mailbox}` : 'the service account';
    throw new ImapLoginError(`IMAP login for ${who} at ${source.host}:${source.port} failed: ${detail}`);
  }
  return client;
}
