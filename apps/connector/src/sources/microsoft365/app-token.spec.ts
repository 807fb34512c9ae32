import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Microsoft365AppConfig } from '../../config/connector-config.js';
import { AppTokenSource, readJwtClaims, tokenEndpoint, tokenRoles } from './app-token.js';

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'RS256' })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** Answers each token request with the next scripted reply and records what it was sent. */
let answer: (form: URLSearchParams, res: ServerResponse) => void = () => undefined;
const requests: Array<{ url: string; form: URLSearchParams }> = [];
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      requests.push({ url: req.url ?? '', form });
      answer(form, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function app(overrides: Partial<Microsoft365AppConfig> = {}): Microsoft365AppConfig {
  return {
    tenant: 'contoso.onmicrosoft.com',
    clientId: '11111111-2222-3333-4444-555555555555',
    clientSecret: 's3cret',
    authorityHost: origin,
    scope: 'https://outlook.office365.com/.default',
    ...overrides,
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('app-only token of a Microsoft 365 app', () => {
  it('asks the tenant’s v2.0 token endpoint with the client credentials grant and reads the roles', async () => {
    requests.length = 0;
    const token = jwt({ appid: 'app', roles: ['IMAP.AccessAsApp'] });
    answer = (_form, res) => json(res, 200, { token_type: 'Bearer', expires_in: 3599, access_token: token });
    const source = new AppTokenSource(app(), () => Date.parse('2026-11-24T10:00:00Z'));
    const got = await source.token();
    expect(got.accessToken).toBe(token);
    expect(got.expiresAt.toISOString()).toBe('2026-11-24T10:59:59.000Z');
    expect(tokenRoles(got.claims)).toEqual(['IMAP.AccessAsApp']);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('/contoso.onmicrosoft.com/oauth2/v2.0/token');
    expect(Object.fromEntries(requests[0]?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: '11111111-2222-3333-4444-555555555555',
      client_secret: 's3cret',
      scope: 'https://outlook.office365.com/.default',
    });
  });

  it('reuses a token until five minutes before it expires, and shares one request between callers', async () => {
    requests.length = 0;
    let clock = Date.parse('2026-11-24T10:00:00Z');
    let issued = 0;
    answer = (_form, res) => json(res, 200, { expires_in: 3600, access_token: jwt({ n: ++issued }) });
    const source = new AppTokenSource(app(), () => clock);
    const [a, b] = await Promise.all([source.token(), source.token()]);
    expect(a.accessToken).toBe(b.accessToken);
    clock += 54 * 60_000;
    expect((await source.token()).accessToken).toBe(a.accessToken);
    clock += 2 * 60_000;
    expect((await source.token()).claims).toEqual({ n: 2 });
    expect(requests).toHaveLength(2);
  });

  it('says what Entra refused, with its AADSTS explanation', async () => {
    answer = (_form, res) =>
      json(res, 401, {
        error: 'invalid_client',
        error_description:
          'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 1\r\nCorrelation ID: 2',
      });
    await expect(new AppTokenSource(app()).token()).rejects.toThrow(
      /^sign-in of app 11111111-2222-3333-4444-555555555555 of Microsoft 365 tenant contoso.onmicrosoft.com was refused \(HTTP 401 invalid_client\): AADSTS7000215: Invalid client secret provided\. Ensure the secret being sent in the request is the client secret value\.$/,
    );
  });

  it('says so when the answer is no token, or not JSON', async () => {
    answer = (_form, res) => json(res, 200, { token_type: 'Bearer' });
    await expect(new AppTokenSource(app()).token()).rejects.toThrow(/answered without an access token/);
    answer = (_form, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    };
    await expect(new AppTokenSource(app()).token()).rejects.toThrow(/refused \(HTTP 502\): <html>Bad gateway<\/html>/);
  });

  it('names the endpoint it could not reach', async () => {
    // A port that was free a moment ago: nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = app({ authorityHost: `http://127.0.0.1:${port}` });
    await expect(new AppTokenSource(unreachable).token()).rejects.toThrow(
      new RegExp(
        `cannot reach http://127\\.0\\.0\\.1:${port}/contoso\\.onmicrosoft\\.com/oauth2/v2\\.0/token: .*ECONNREFUSED`,
      ),
    );
  });
});

describe('token helpers', () => {
  it('builds the token endpoint of the tenant on its cloud', () => {
    expect(tokenEndpoint(app({ authorityHost: 'https://login.microsoftonline.us/' }))).toBe(
      'https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token',
    );
  });

  it('reads the claims of a JWT and nothing else', () => {
    expect(readJwtClaims(jwt({ roles: ['a'] }))).toEqual({ roles: ['a'] });
    expect(readJwtClaims('opaque-token')).toBeNull();
    expect(readJwtClaims('a.bm90IGpzb24.c')).toBeNull();
    expect(tokenRoles(null)).toEqual([]);
    expect(tokenRoles({ roles: 'IMAP.AccessAsApp' })).toEqual([]);
  });
});
