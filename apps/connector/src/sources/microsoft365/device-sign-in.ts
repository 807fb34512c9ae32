import { setTimeout as sleep } from 'node:timers/promises';
import type { Microsoft365AppConfig } from '../../config/connector-config.js';
import { issuedToken, Microsoft365SignInError, postForm, type IssuedToken } from './app-token.js';

/** Exchange Online's delegated permission to open the signed-in user's own mailbox over IMAP. */
export const IMAP_USER_PERMISSION = 'IMAP.AccessAsUser.All';

const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceSignInOptions {
  /** The mailbox the owner says is theirs. */
  login: string;
  /** Whose sign-in it must be, where the owner's sign-in name is not the mailbox address; default `login`. */
  signInName?: string;
  /** Where the sign-in instructions go (the terminal of whoever runs the command). */
  print: (text: string) => void;
  wait?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** The delegated scope on the app's resource: `https://outlook.office365.com/IMAP.AccessAsUser.All`. */
export function delegatedImapScope(app: Microsoft365AppConfig): string {
  return `${app.scope.replace(/\/\.default$/, '')}/${IMAP_USER_PERMISSION}`;
}

/**
 * The mailbox owner's own Microsoft 365 sign-in (OAuth 2.0 device authorization grant, RFC 8628,
 * as Entra ID's v2.0 endpoints implement it): the command prints a code, the owner enters it at
 * Microsoft's sign-in page in any browser, and the token acts as them only — the delegated form of
 * "their own credentials". The app registration must allow public client flows; its secret is not
 * used. The token is returned for this run and never written or sent anywhere but the mail server.
 */
export async function signInWithDeviceCode(app: Microsoft365AppConfig, options: DeviceSignInOptions): Promise<string> {
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  const now = options.now ?? Date.now;
  const base = `${app.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(app.tenant)}/oauth2/v2.0`;
  const who = `${options.login} (app ${app.clientId}, Microsoft 365 tenant ${app.tenant})`;
  const scope = delegatedImapScope(app);

  const started = await postForm(`${base}/devicecode`, who, { client_id: app.clientId, scope });
  if (!started.ok) throw started.refusal;
  const deviceCode = started.body['device_code'];
  const message = started.body['message'];
  if (typeof deviceCode !== 'string' || typeof message !== 'string') {
    throw new Microsoft365SignInError(`sign-in of ${who}: ${base}/devicecode answered without a device code`);
  }
  options.print(`${message}\nSign in as ${options.signInName ?? options.login}.\n`);
  let interval = Math.max(0, Number(started.body['interval'] ?? 5)) * 1000;
  const deadline = now() + Math.max(1, Number(started.body['expires_in'] ?? 900)) * 1000;

  for (;;) {
    await wait(interval);
    const polled = await postForm(`${base}/token`, who, {
      grant_type: GRANT_TYPE,
      client_id: app.clientId,
      device_code: deviceCode,
    });
    if (polled.ok) return checkedToken(issuedToken(polled.body, `${base}/token`, who, now()), options);
    const waiting = polled.error === 'authorization_pending' || polled.error === 'slow_down';
    if (waiting && now() >= deadline) {
      throw new Microsoft365SignInError(
        `the sign-in of ${who} was not completed before its code expired: run the command again and sign in`,
      );
    }
    if (!waiting) {
      // A confidential client's device code is refused at redemption without its secret.
      if (polled.refusal.message.includes('AADSTS7000218')) {
        throw new Microsoft365SignInError(
          `${polled.refusal.message} The app registration must allow public client flows (Authentication: ` +
            '"Allow public client flows") for owners to sign in with a code.',
        );
      }
      throw polled.refusal;
    }
    if (polled.error === 'slow_down') interval += 5_000;
  }
}

/** The token, once it is the named owner's and carries the IMAP permission. */
function checkedToken({ accessToken, claims }: IssuedToken, options: DeviceSignInOptions): string {
  if (!claims) return accessToken; // Not readable here: the mail server decides.
  const user = [claims['upn'], claims['unique_name'], claims['preferred_username']].find(
    (value): value is string => typeof value === 'string' && value.length > 0,
  );
  const expected = options.signInName ?? options.login;
  if (user && user.toLowerCase() !== expected.toLowerCase()) {
    throw new Microsoft365SignInError(
      options.signInName
        ? `the sign-in was ${user}'s, not ${expected}'s: sign in as ${expected}`
        : `the sign-in was ${user}'s, but the mailbox is ${options.login}: sign in as ${options.login} ` +
            "(where the owner's sign-in name is not the mailbox address, give it with --sign-in-name)",
    );
  }
  const granted = typeof claims['scp'] === 'string' ? claims['scp'].split(' ') : [];
  if (!granted.includes(IMAP_USER_PERMISSION)) {
    throw new Microsoft365SignInError(
      `the sign-in of ${options.login} did not grant ${IMAP_USER_PERMISSION} (granted: ${granted.join(' ') || 'nothing'}): ` +
        'the app registration needs that delegated permission (Office 365 Exchange Online)',
    );
  }
  return accessToken;
}
