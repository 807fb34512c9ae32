import type { Microsoft365AppConfig } from '../../config/connector-config.js';

/** Exchange Online's application permission that lets an app open any mailbox over IMAP. */
export const IMAP_APP_ROLE = 'IMAP.AccessAsApp';

/** A token is renewed this long before it expires, so that a login never presents a dying one. */
const RENEW_BEFORE_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

export class Microsoft365SignInError extends Error {
  override readonly name = 'Microsoft365SignInError';
}

export interface IssuedToken {
  accessToken: string;
  expiresAt: Date;
  /** The token's claims when it is a JWT (Entra's are); null when it cannot be read. */
  claims: Record<string, unknown> | null;
}

/** The claims of a JWT, read without verifying it: only to tell what the issuer granted. */
export function readJwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** The token endpoint of the app's directory on its cloud (v2.0 endpoint). */
export function tokenEndpoint(app: Microsoft365AppConfig): string {
  return `${app.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(app.tenant)}/oauth2/v2.0/token`;
}

/**
 * App-only access tokens of one Entra ID app registration (OAuth 2.0 client credentials grant,
 * RFC 6749 §4.4, as the Microsoft identity platform's v2.0 token endpoint takes it). Tokens are
 * reused until shortly before they expire; concurrent callers share one request.
 *
 * Not MSAL: it accepts only https authorities found by instance discovery, which rules out a test
 * stand-in of the token endpoint; the grant itself is one form POST.
 */
export class AppTokenSource {
  private current: IssuedToken | undefined;
  private pending: Promise<IssuedToken> | undefined;

  constructor(
    private readonly app: Microsoft365AppConfig,
    private readonly now: () => number = Date.now,
  ) {}

  async token(): Promise<IssuedToken> {
    if (this.current && this.current.expiresAt.getTime() - RENEW_BEFORE_MS > this.now()) return this.current;
    this.pending ??= this.request().finally(() => {
      this.pending = undefined;
    });
    this.current = await this.pending;
    return this.current;
  }

  private async request(): Promise<IssuedToken> {
    const { app } = this;
    const endpoint = tokenEndpoint(app);
    const who = `app ${app.clientId} of Microsoft 365 tenant ${app.tenant}`;
    const answer = await postForm(endpoint, who, {
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      scope: app.scope,
    });
    if (!answer.ok) throw answer.refusal;
    return issuedToken(answer.body, endpoint, who, this.now());
  }
}

/** What an Entra endpoint answered to a form POST: the JSON body, or the refusal in words. */
export type FormAnswer =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; error: string | undefined; body: Record<string, unknown>; refusal: Microsoft365SignInError };

/**
 * POSTs a form to an endpoint of the Microsoft identity platform. Unreachable: thrown. Refused:
 * returned, with Entra's error code and the first line of its AADSTS description in words.
 */
export async function postForm(endpoint: string, who: string, form: Record<string, string>): Promise<FormAnswer> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new Microsoft365SignInError(
      `sign-in of ${who} failed: cannot reach ${endpoint}: ${cause ?? (error as Error).message}`,
    );
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page, say): reported by status below.
  }
  if (response.ok) return { ok: true, body };
  // Entra answers {error, error_description: "AADSTS…: what went wrong.\r\nTrace ID: …"}.
  const description =
    typeof body['error_description'] === 'string' ? body['error_description'].split(/\r?\n/)[0] : undefined;
  const error = typeof body['error'] === 'string' ? body['error'] : undefined;
  const refusal = new Microsoft365SignInError(
    `sign-in of ${who} was refused (HTTP ${response.status}${error ? ` ${error}` : ''}): ${
      description ?? (text.slice(0, 200) || 'no explanation given')
    }`,
  );
  return { ok: false, error, body, refusal };
}

/** The access token of a token endpoint's answer, with its expiry and readable claims. */
export function issuedToken(body: Record<string, unknown>, endpoint: string, who: string, now: number): IssuedToken {
  const accessToken = body['access_token'];
  const expiresIn = Number(body['expires_in']);
  if (typeof accessToken !== 'string' || accessToken.length === 0 || !Number.isFinite(expiresIn)) {
    throw new Microsoft365SignInError(
      `sign-in of ${who}: ${endpoint} answered without an access token and its lifetime`,
    );
  }
  return { accessToken, expiresAt: new Date(now + expiresIn * 1000), claims: readJwtClaims(accessToken) };
}

/** One token source per app configuration, for the life of the process. */
const sources = new WeakMap<Microsoft365AppConfig, AppTokenSource>();

export function appTokenSource(app: Microsoft365AppConfig): AppTokenSource {
  let source = sources.get(app);
  if (!source) {
    source = new AppTokenSource(app);
    sources.set(app, source);
  }
  return source;
}

/** The application permissions (`roles`) a token carries. */
export function tokenRoles(claims: Record<string, unknown> | null): string[] {
  const roles = claims?.['roles'];
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [];
}
