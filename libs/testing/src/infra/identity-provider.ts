import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  randomInt,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An app registration with a client secret and the application permissions granted to it. */
export interface TestAppRegistration {
  clientId: string;
  clientSecret: string;
  /** Application permissions, e.g. `IMAP.AccessAsApp`; they become the token's `roles` claim. */
  roles: string[];
  /**
   * Delegated permissions listed in the registration, as full scopes (e.g.
   * `https://outlook.office365.com/IMAP.AccessAsUser.All`): what a device code sign-in for
   * `<resource>/.default` gets. Scopes named explicitly need not be listed (the user consents at
   * sign-in). Default none.
   */
  delegatedPermissions?: string[];
}

/** What the device code flow shows to the user's browser at https://microsoft.com/devicelogin. */
export interface DeviceCodeSignInRequest {
  userCode: string;
  clientId: string;
  /** The scopes as the device asked for them, e.g. `https://outlook.office365.com/IMAP.AccessAsUser.All`. */
  scopes: string[];
}

/**
 * The user's answer: signed in as `user` (a UPN such as `bob@example.com`; `name` defaults to it),
 * declined, or not yet done.
 */
export type DeviceCodeSignInDecision = { user: string; name?: string } | 'decline' | 'pending';

/** Simulates the user at the sign-in page; asked at each poll until it answers other than 'pending'. */
export type DeviceCodeSignIn = (request: DeviceCodeSignInRequest) => DeviceCodeSignInDecision;

/**
 * A stand-in for the Microsoft identity platform (Entra ID) token endpoint — the client credentials
 * grant (app-only tokens) and the device authorization grant (a user's delegated token) — plus an
 * RFC 7662-style introspection endpoint that a test IMAP server (Dovecot's oauth2 passdb) asks
 * whether a token is valid: Exchange Online does that check itself.
 */
export interface TestIdentityProvider {
  /** e.g. `http://127.0.0.1:PORT` — the connector's `authorityHost`. */
  readonly authorityHost: string;
  /** Directory (tenant) id, a GUID. */
  readonly tenant: string;
  /** For Dovecot's oauth2 passdb (`introspection_mode = post`). */
  readonly introspectionUrl: string;
  /** Adds an app registration, or replaces the one with the same client id. */
  register(app: TestAppRegistration): void;
  /**
   * Sets how the user answers device code sign-ins, for codes issued before or after this call
   * (a code's decision, once made, stays). Without a handler, or with undefined, sign-ins stay
   * pending until the code expires. A test that runs a CLI can approve without seeing the user code.
   */
  signInWithDeviceCode(handler: DeviceCodeSignIn | undefined): void;
  /** Access tokens issued so far, app-only and delegated (tests assert caching). */
  readonly issued: number;
  close(): Promise<void>;
}

export interface TestIdentityProviderOptions {
  /** Defaults to a fresh random GUID. */
  tenant?: string;
  apps?: TestAppRegistration[];
  /** `expires_in` of issued tokens; Entra's default is 3599. 0 issues tokens that are already expired. */
  tokenLifetimeSeconds?: number;
  /** `interval` of device codes: seconds the device waits between polls. Entra's is 5; 0 for tests. */
  deviceCodeIntervalSeconds?: number;
  /** `expires_in` of device codes; Entra's is 900. 0 issues codes that are already expired. */
  deviceCodeLifetimeSeconds?: number;
}

const HOST = '127.0.0.1';
const DEFAULT_LIFETIME_SECONDS = 3_599;
const DEFAULT_DEVICE_CODE_INTERVAL_SECONDS = 5;
const DEFAULT_DEVICE_CODE_LIFETIME_SECONDS = 900;
const DEFAULT_SUFFIX = '/.default';
const MAX_BODY_BYTES = 64 * 1024;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const VERIFICATION_URI = 'https://microsoft.com/devicelogin';
/** Entra's user codes: nine upper-case letters and digits, e.g. `GSTRNFDV3`. */
const USER_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const USER_CODE_LENGTH = 9;
/** Scopes of OpenID Connect itself: they name no resource and never reach an access token. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/** A scope without a resource is one of Microsoft Graph's, as Entra reads it. */
const GRAPH_RESOURCE = 'https://graph.microsoft.com';
/** Application permissions only: no user can consent to them, so no delegated token carries them. */
const APPLICATION_ONLY_SCOPES = new Set([
  'IMAP.AccessAsApp',
  'POP.AccessAsApp',
  'SMTP.SendAsApp',
  'full_access_as_app',
]);

interface Registration extends TestAppRegistration {
  delegatedPermissions: string[];
  /** The service principal's object id: an app-only token's `oid` and `sub`. */
  objectId: string;
}

interface CommonClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  appid: string;
  /** 0: a public client (no secret), 1: the client authenticated with a secret. */
  appidacr: '0' | '1';
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0';
}

interface AppTokenClaims extends CommonClaims {
  idp: string;
  idtyp: 'app';
  roles?: string[];
}

/** A v1.0 delegated token as Exchange Online receives it: the user, and the app's `scp`. */
interface UserTokenClaims extends CommonClaims {
  idtyp: 'user';
  acr: '1';
  amr: string[];
  name: string;
  /** Space-separated permission names without the resource, e.g. `IMAP.AccessAsUser.All`. */
  scp: string;
  unique_name: string;
  upn: string;
}

type AccessTokenClaims = AppTokenClaims | UserTokenClaims;

interface DeviceCode {
  clientId: string;
  userCode: string;
  /** As requested, for the sign-in handler. */
  requested: string[];
  resource: string;
  /** Permission names for `scp`. */
  permissions: string[];
  expiresAt: number;
  decision?: { user: string; name: string } | 'decline';
  redeemed: boolean;
}

/** An Entra error: status, OAuth error code and the AADSTS number and text. */
class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    description: string,
  ) {
    super(`AADSTS${code}: ${description}`);
  }
}

/**
 * Starts the identity provider on a free port of 127.0.0.1. Answers and errors are shaped like
 * Entra's; tokens are v1.0 tokens as Exchange Online receives them (RS256, `aud` = the resource).
 * - `POST {authorityHost}/{tenant}/oauth2/v2.0/token`, grant_type=client_credentials (client_id,
 *   client_secret, scope=<resource>/.default): an app-only token, `roles` when the app has any.
 * - `POST {authorityHost}/{tenant}/oauth2/v2.0/devicecode` (client_id, scope: space-separated, one
 *   resource, e.g. `https://outlook.office365.com/IMAP.AccessAsUser.All offline_access`): a device
 *   code (RFC 8628); then the token endpoint with grant_type=urn:ietf:params:oauth:grant-type:device_code
 *   (client_id, device_code) answers authorization_pending, authorization_declined, expired_token or
 *   bad_verification_code until the user signs in (see signInWithDeviceCode), then once a delegated
 *   token: `scp`, `upn`, `unique_name`, `idtyp: 'user'`, no roles. No refresh tokens.
 */
export async function startTestIdentityProvider(opts: TestIdentityProviderOptions = {}): Promise<TestIdentityProvider> {
  const tenant = opts.tenant ?? randomUUID();
  const lifetime = nonNegativeInteger('tokenLifetimeSeconds', opts.tokenLifetimeSeconds, DEFAULT_LIFETIME_SECONDS);
  const pollInterval = nonNegativeInteger(
    'deviceCodeIntervalSeconds',
    opts.deviceCodeIntervalSeconds,
    DEFAULT_DEVICE_CODE_INTERVAL_SECONDS,
  );
  const deviceCodeLifetime = nonNegativeInteger(
    'deviceCodeLifetimeSeconds',
    opts.deviceCodeLifetimeSeconds,
    DEFAULT_DEVICE_CODE_LIFETIME_SECONDS,
  );
  const issuer = `https://sts.windows.net/${tenant}/`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // Entra's kid is the base64url SHA-1 thumbprint of the signing certificate; of the key will do.
  const kid = createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  const apps = new Map<string, Registration>();
  const deviceCodes = new Map<string, DeviceCode>();
  /** A user's object id, the same in every token of this provider; keyed by lower-case UPN. */
  const userObjectIds = new Map<string, string>();
  let signIn: DeviceCodeSignIn | undefined;
  let issued = 0;

  const register = (app: TestAppRegistration): void => {
    if (app.clientId.length === 0 || app.clientSecret.length === 0)
      throw new Error('register: clientId and clientSecret must be non-empty');
    apps.set(app.clientId, {
      ...app,
      roles: [...app.roles],
      delegatedPermissions: [...(app.delegatedPermissions ?? [])],
      objectId: randomUUID(),
    });
  };
  for (const app of opts.apps ?? []) register(app);

  const registeredApp = (clientId: string): Registration => {
    const app = apps.get(clientId);
    if (app === undefined) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    return app;
  };

  const wrongSecret = (clientId: string) =>
    new EntraError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    );

  const issue = (claims: AccessTokenClaims): string => {
    issued += 1;
    return signJwt(claims, kid, privateKey);
  };

  const clientCredentials = (params: URLSearchParams): Record<string, unknown> => {
    const clientId = required(params, 'client_id');
    const app = registeredApp(clientId);
    const secret = params.get('client_secret');
    if (secret === null)
      throw new EntraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    if (secret !== app.clientSecret) throw wrongSecret(clientId);
    const scope = required(params, 'scope');
    const resource = scope.endsWith(DEFAULT_SUFFIX) ? scope.slice(0, -DEFAULT_SUFFIX.length) : '';
    if (resource === '' || /\s/.test(scope)) {
      throw new EntraError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }

    const now = Math.floor(Date.now() / 1000);
    const claims: AppTokenClaims = {
      aud: resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: app.clientId,
      appidacr: '1',
      idp: issuer,
      idtyp: 'app',
      oid: app.objectId,
      sub: app.objectId,
      tid: tenant,
      uti: randomUUID(),
      ver: '1.0',
      ...(app.roles.length > 0 ? { roles: [...app.roles] } : {}),
    };
    return {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: issue(claims),
    };
  };

  const startDeviceCode = (params: URLSearchParams): Record<string, unknown> => {
    const app = registeredApp(required(params, 'client_id'));
    const requested = required(params, 'scope').split(/\s+/).filter(Boolean);
    const { resource, permissions } = delegatedScope(app, requested);
    const userCode = Array.from(
      { length: USER_CODE_LENGTH },
      () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)],
    ).join('');
    const deviceCode = randomBytes(96).toString('base64url');
    deviceCodes.set(deviceCode, {
      clientId: app.clientId,
      userCode,
      requested,
      resource,
      permissions,
      expiresAt: Date.now() + deviceCodeLifetime * 1000,
      redeemed: false,
    });
    return {
      user_code: userCode,
      device_code: deviceCode,
      verification_uri: VERIFICATION_URI,
      expires_in: deviceCodeLifetime,
      interval: pollInterval,
      message: `To sign in, use a web browser to open the page ${VERIFICATION_URI} and enter the code ${userCode} to authenticate.`,
    };
  };

  const redeemDeviceCode = (params: URLSearchParams): Record<string, unknown> => {
    const clientId = required(params, 'client_id');
    const app = registeredApp(clientId);
    // A public client sends no secret; a confidential one may, and then it must be right.
    const secret = params.get('client_secret');
    if (secret !== null && secret !== app.clientSecret) throw wrongSecret(clientId);
    const code = deviceCodes.get(required(params, 'device_code'));
    if (code === undefined || code.clientId !== clientId) {
      throw new EntraError(
        400,
        'bad_verification_code',
        70018,
        "The provided value for the input parameter 'device_code' is not valid. The device code was not recognized.",
      );
    }
    if (code.redeemed) {
      throw new EntraError(
        400,
        'invalid_grant',
        54005,
        'The device code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    }
    if (Date.now() >= code.expiresAt) {
      throw new EntraError(
        400,
        'expired_token',
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
      );
    }
    if (code.decision === undefined) {
      const decision = signIn?.({ userCode: code.userCode, clientId, scopes: [...code.requested] }) ?? 'pending';
      if (decision === 'pending') {
        throw new EntraError(
          400,
          'authorization_pending',
          70016,
          'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
        );
      }
      if (decision !== 'decline' && (typeof decision.user !== 'string' || decision.user.length === 0))
        throw new Error(`signInWithDeviceCode: the handler returned no user: ${JSON.stringify(decision)}`);
      code.decision = decision === 'decline' ? decision : { user: decision.user, name: decision.name ?? decision.user };
    }
    if (code.decision === 'decline')
      throw new EntraError(400, 'authorization_declined', 65004, 'User declined to consent to access the app.');

    code.redeemed = true;
    const { user, name } = code.decision;
    const key = user.toLowerCase();
    const oid = userObjectIds.get(key) ?? randomUUID();
    userObjectIds.set(key, oid);
    const now = Math.floor(Date.now() / 1000);
    const claims: UserTokenClaims = {
      aud: code.resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      acr: '1',
      amr: ['pwd'],
      appid: clientId,
      appidacr: secret === null ? '0' : '1',
      idtyp: 'user',
      name,
      oid,
      scp: code.permissions.join(' '),
      // Entra's `sub` is pairwise: the same user has another one towards each app.
      sub: createHash('sha256').update(`${oid}:${clientId}`).digest('base64url').slice(0, 43),
      tid: tenant,
      unique_name: user,
      upn: user,
      uti: randomUUID(),
      ver: '1.0',
    };
    return {
      token_type: 'Bearer',
      // Outside Microsoft Graph, Entra names the granted scopes with their resource.
      scope: code.permissions.map((permission) => `${code.resource}/${permission}`).join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: issue(claims),
    };
  };

  const issueToken = (params: URLSearchParams): Record<string, unknown> => {
    const grantType = required(params, 'grant_type');
    if (grantType === 'client_credentials') return clientCredentials(params);
    if (grantType === DEVICE_CODE_GRANT) return redeemDeviceCode(params);
    throw new EntraError(
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grantType}'.`,
    );
  };

  const introspect = (token: string | null): Record<string, unknown> => {
    const claims = token === null ? undefined : verifiedClaims(token, kid, publicKey);
    const now = Math.floor(Date.now() / 1000);
    if (claims === undefined || claims.iss !== issuer || claims.exp <= now || claims.nbf > now)
      return { active: false };
    // RFC 7662's `username` names the resource owner who authorised the token: the user, or the app
    // itself for an app-only token. Dovecot compares it with the login user for users' own tokens.
    if (claims.idtyp === 'user') {
      const { appid, upn, scp, exp } = claims;
      return { active: true, appid, upn, username: upn, scope: scp, exp };
    }
    // The resource decides with the app's permissions as they are now, as Exchange does with the
    // app's mailbox permissions: a role withdrawn after the token was issued no longer counts.
    const current = apps.get(claims.appid)?.roles ?? [];
    const scope = (claims.roles ?? []).filter((role) => current.includes(role));
    return { active: true, appid: claims.appid, username: claims.appid, scope: scope.join(' '), exp: claims.exp };
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = /^\/([^/]+)\/oauth2\/v2\.0\/(token|devicecode)$/.exec(path);
    if (endpoint !== null) {
      try {
        const requested = decodeURIComponent(endpoint[1] ?? '');
        if (requested.toLowerCase() !== tenant.toLowerCase()) {
          throw new EntraError(
            400,
            'invalid_request',
            90002,
            `Tenant '${requested}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
          );
        }
        if (req.method !== 'POST')
          throw new EntraError(
            400,
            'invalid_request',
            900561,
            `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method ?? ''} request.`,
          );
        const form = await readForm(req);
        sendJson(res, 200, endpoint[2] === 'token' ? issueToken(form) : startDeviceCode(form));
      } catch (error) {
        if (!(error instanceof EntraError)) throw error;
        const correlationId = headerValue(req, 'client-request-id') ?? randomUUID();
        sendJson(res, error.status, entraErrorBody(error, correlationId));
      }
      return;
    }
    if (path === '/introspect') {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'method_not_allowed' });
        return;
      }
      sendJson(res, 200, introspect((await readForm(req)).get('token')));
      return;
    }
    sendJson(res, 404, { error: 'not_found', path });
  };

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(error) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const authorityHost = `http://${HOST}:${port}`;

  return {
    authorityHost,
    tenant,
    introspectionUrl: `${authorityHost}/introspect`,
    register,
    signInWithDeviceCode: (handler) => {
      signIn = handler;
    },
    get issued() {
      return issued;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Dovecot's HTTP client keeps connections alive; close() alone would wait for them.
        server.closeAllConnections();
      }),
  };
}

/**
 * The one resource and its permission names that a device code sign-in asks for, read as Entra
 * reads `scope`: OpenID Connect scopes aside, `<resource>/<permission>` or `<resource>/.default`
 * (the registration's delegated permissions for it), a bare name being a Microsoft Graph one.
 */
function delegatedScope(app: Registration, requested: string[]): { resource: string; permissions: string[] } {
  const scope = requested.join(' ');
  const invalidScope = () =>
    new EntraError(
      400,
      'invalid_scope',
      70011,
      `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    );
  const byResource = new Map<string, string[]>();
  for (const item of requested.filter((s) => !OIDC_SCOPES.has(s))) {
    const slash = item.lastIndexOf('/');
    const resource = slash < 0 ? GRAPH_RESOURCE : item.slice(0, slash);
    const permission = item.slice(slash + 1);
    if (resource === '' || permission === '') throw invalidScope();
    byResource.set(resource, [...(byResource.get(resource) ?? []), permission]);
  }
  if (byResource.size === 0) throw invalidScope();
  if (byResource.size > 1) {
    throw new EntraError(
      400,
      'invalid_scope',
      28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
    );
  }
  const [[resource, names]] = [...byResource] as [[string, string[]]];
  if (names.includes('.default')) {
    if (names.length > 1) throw invalidScope();
    const permissions = app.delegatedPermissions
      .filter((permission) => permission.startsWith(`${resource}/`))
      .map((permission) => permission.slice(resource.length + 1));
    if (permissions.length === 0) {
      throw new EntraError(
        400,
        'invalid_client',
        650057,
        `Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration. Client app ID: ${app.clientId}. Resource value from request: ${resource}.`,
      );
    }
    return { resource, permissions };
  }
  const applicationOnly = names.find((name) => APPLICATION_ONLY_SCOPES.has(name));
  if (applicationOnly !== undefined) {
    throw new EntraError(
      400,
      'invalid_scope',
      650053,
      `The application '${app.clientId}' asked for scope '${applicationOnly}' that doesn't exist on the resource '${resource}'.`,
    );
  }
  return { resource, permissions: [...new Set(names)] };
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 0) throw new Error(`${name} must be a non-negative integer, got ${result}`);
  return result;
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null) throw missingParameter(name);
  return value;
}

function missingParameter(name: string): EntraError {
  return new EntraError(
    400,
    'invalid_request',
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

/** Entra puts trace id, correlation id and time both in the description and as fields. */
function entraErrorBody(error: EntraError, correlationId: string): Record<string, unknown> {
  const traceId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    error: error.error,
    error_description: `${error.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [error.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${error.code}`,
  };
}

function signJwt(claims: AccessTokenClaims, kid: string, key: KeyObject): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ typ: 'JWT', alg: 'RS256', kid })}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** The claims of a token this provider signed, or undefined for anything else. */
function verifiedClaims(token: string, kid: string, key: KeyObject): AccessTokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header = '', payload = '', signature = ''] = parts;
  try {
    const parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (parsedHeader.alg !== 'RS256' || parsedHeader.kid !== kid) return undefined;
    if (!verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url')))
      return undefined;
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AccessTokenClaims;
  } catch {
    return undefined;
  }
}

/** The form fields of the body; like Entra, any other content type reads as no fields at all. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store, no-cache',
  });
  res.end(text);
}
