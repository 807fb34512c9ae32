import { createHash, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An app registration with a client secret and the application permissions granted to it. */
export interface TestAppRegistration {
  clientId: string;
  clientSecret: string;
  /** Application permissions, e.g. `IMAP.AccessAsApp`; they become the token's `roles` claim. */
  roles: string[];
}

/**
 * A stand-in for the Microsoft identity platform (Entra ID) token endpoint, for the client
 * credentials grant only, plus an RFC 7662-style introspection endpoint that a test IMAP server
 * (Dovecot's oauth2 passdb) asks whether a token is valid — Exchange Online does that check itself.
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
  /** Tokens issued so far (tests assert caching). */
  readonly issued: number;
  close(): Promise<void>;
}

export interface TestIdentityProviderOptions {
  /** Defaults to a fresh random GUID. */
  tenant?: string;
  apps?: TestAppRegistration[];
  /** `expires_in` of issued tokens; Entra's default is 3599. 0 issues tokens that are already expired. */
  tokenLifetimeSeconds?: number;
}

const HOST = '127.0.0.1';
const DEFAULT_LIFETIME_SECONDS = 3_599;
const DEFAULT_SUFFIX = '/.default';
const MAX_BODY_BYTES = 64 * 1024;

interface Registration extends TestAppRegistration {
  /** The service principal's object id: the token's `oid` and `sub`. */
  objectId: string;
}

interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  appid: string;
  appidacr: '1';
  idp: string;
  idtyp: 'app';
  oid: string;
  sub: string;
  tid: string;
  uti: string;
  ver: '1.0';
  roles?: string[];
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
 * Starts the identity provider on a free port of 127.0.0.1. Token endpoint:
 * `POST {authorityHost}/{tenant}/oauth2/v2.0/token` (form body: grant_type=client_credentials,
 * client_id, client_secret, scope=<resource>/.default). Answers and errors are shaped like Entra's.
 * Tokens are v1.0 app-only tokens as Exchange Online receives them: RS256, `aud` = the resource,
 * `roles` only when the app has application permissions.
 */
export async function startTestIdentityProvider(opts: TestIdentityProviderOptions = {}): Promise<TestIdentityProvider> {
  const tenant = opts.tenant ?? randomUUID();
  const lifetime = opts.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 0)
    throw new Error(`tokenLifetimeSeconds must be a non-negative integer, got ${lifetime}`);
  const issuer = `https://sts.windows.net/${tenant}/`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // Entra's kid is the base64url SHA-1 thumbprint of the signing certificate; of the key will do.
  const kid = createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  const apps = new Map<string, Registration>();
  let issued = 0;

  const register = (app: TestAppRegistration): void => {
    if (app.clientId.length === 0 || app.clientSecret.length === 0)
      throw new Error('register: clientId and clientSecret must be non-empty');
    apps.set(app.clientId, { ...app, roles: [...app.roles], objectId: randomUUID() });
  };
  for (const app of opts.apps ?? []) register(app);

  const issueToken = (params: URLSearchParams): Record<string, unknown> => {
    const grantType = params.get('grant_type');
    if (grantType === null) throw missingParameter('grant_type');
    if (grantType !== 'client_credentials')
      throw new EntraError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    const clientId = params.get('client_id');
    if (clientId === null) throw missingParameter('client_id');
    const app = apps.get(clientId);
    if (app === undefined) {
      throw new EntraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const secret = params.get('client_secret');
    if (secret === null)
      throw new EntraError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    if (secret !== app.clientSecret) {
      throw new EntraError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    const scope = params.get('scope');
    if (scope === null) throw missingParameter('scope');
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
    const claims: AccessTokenClaims = {
      aud: resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: app.clientId,
      // 1: the client authenticated with a secret.
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
    issued += 1;
    return {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: signJwt(claims, kid, privateKey),
    };
  };

  const introspect = (token: string | null): Record<string, unknown> => {
    const claims = token === null ? undefined : verifiedClaims(token, kid, publicKey);
    const now = Math.floor(Date.now() / 1000);
    if (claims === undefined || claims.iss !== issuer || claims.exp <= now || claims.nbf > now)
      return { active: false };
    // The resource decides with the app's permissions as they are now, as Exchange does with the
    // app's mailbox permissions: a role withdrawn after the token was issued no longer counts.
    const current = apps.get(claims.appid)?.roles ?? [];
    const scope = (claims.roles ?? []).filter((role) => current.includes(role));
    return { active: true, appid: claims.appid, scope: scope.join(' '), exp: claims.exp };
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (tokenPath !== null) {
      try {
        const requested = decodeURIComponent(tokenPath[1] ?? '');
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
        sendJson(res, 200, issueToken(await readForm(req)));
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
