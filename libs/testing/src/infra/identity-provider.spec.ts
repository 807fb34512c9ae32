import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdentityProvider, type TestIdentityProvider } from './identity-provider.js';

const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
const BACKUP_APP = {
  clientId: '5f1c3a52-7d0e-4b8a-9c61-2a4e8d9b0c17',
  clientSecret: 'backup~secret',
  roles: ['IMAP.AccessAsApp'],
};
const BARE_APP = { clientId: '0b7e2d94-1c35-4f6a-8e20-9d4c7b1a3e58', clientSecret: 'bare~secret', roles: [] };

interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function post(url: string, form: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(form) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function decodePart(token: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

describe('startTestIdentityProvider', () => {
  let idp: TestIdentityProvider;
  let tokenUrl: string;

  const requestToken = (form: Record<string, string>, url = tokenUrl) => post(url, form);
  const clientCredentials = (app: { clientId: string; clientSecret: string }, scope = EXCHANGE_SCOPE) => ({
    grant_type: 'client_credentials',
    client_id: app.clientId,
    client_secret: app.clientSecret,
    scope,
  });
  const introspect = async (token: string) => (await post(idp.introspectionUrl, { token })).body;
  const accessToken = async (app: { clientId: string; clientSecret: string }) => {
    const answer = await requestToken(clientCredentials(app));
    expect(answer.status).toBe(200);
    return answer.body.access_token as string;
  };

  beforeAll(async () => {
    idp = await startTestIdentityProvider({ apps: [BACKUP_APP, BARE_APP] });
    tokenUrl = `${idp.authorityHost}/${idp.tenant}/oauth2/v2.0/token`;
  });

  afterAll(async () => {
    await idp?.close();
  });

  it('issues an app-only RS256 token for Exchange Online with the app roles', async () => {
    const before = idp.issued;
    const answer = await requestToken(clientCredentials(BACKUP_APP));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    expect(idp.issued).toBe(before + 1);

    const token = answer.body.access_token as string;
    expect(decodePart(token, 0)).toEqual({ typ: 'JWT', alg: 'RS256', kid: expect.any(String) });
    const claims = decodePart(token, 1);
    const now = Math.floor(Date.now() / 1000);
    expect(claims).toMatchObject({
      aud: 'https://outlook.office365.com',
      iss: `https://sts.windows.net/${idp.tenant}/`,
      tid: idp.tenant,
      appid: BACKUP_APP.clientId,
      idtyp: 'app',
      roles: ['IMAP.AccessAsApp'],
    });
    expect(claims.sub).toBe(claims.oid);
    expect(claims.oid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs((claims.iat as number) - now)).toBeLessThanOrEqual(2);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe((claims.iat as number) + 3599);
  });

  it('leaves out the roles claim for an app without application permissions', async () => {
    const claims = decodePart(await accessToken(BARE_APP), 1);
    expect(claims.appid).toBe(BARE_APP.clientId);
    expect(claims).not.toHaveProperty('roles');
  });

  it('uses the resource of the scope as audience', async () => {
    const answer = await requestToken(clientCredentials(BACKUP_APP, 'https://graph.microsoft.com/.default'));
    expect(decodePart(answer.body.access_token as string, 1).aud).toBe('https://graph.microsoft.com');
  });

  describe('refuses like Entra ID', () => {
    async function expectEntraError(answer: TokenAnswer, status: number, error: string, code: number, text: string) {
      expect(answer.status).toBe(status);
      expect(answer.body).toMatchObject({
        error,
        error_codes: [code],
        trace_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        correlation_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      });
      expect(answer.body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
      expect(answer.body.error_description).toContain(text);
      expect(answer.body).not.toHaveProperty('access_token');
    }

    it('an unknown tenant', async () => {
      const answer = await requestToken(
        clientCredentials(BACKUP_APP),
        `${idp.authorityHost}/contoso.onmicrosoft.com/oauth2/v2.0/token`,
      );
      await expectEntraError(answer, 400, 'invalid_request', 90002, "Tenant 'contoso.onmicrosoft.com' not found.");
    });

    it('a grant type other than client_credentials', async () => {
      const answer = await requestToken({ ...clientCredentials(BACKUP_APP), grant_type: 'password' });
      await expectEntraError(answer, 400, 'unsupported_grant_type', 70003, "unsupported grant type 'password'");
    });

    it('an unknown client id', async () => {
      const answer = await requestToken(clientCredentials({ clientId: 'no-such-app', clientSecret: 'x' }));
      await expectEntraError(
        answer,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier 'no-such-app' was not found in the directory '${idp.tenant}'.`,
      );
    });

    it('a wrong client secret', async () => {
      const answer = await requestToken(clientCredentials({ ...BACKUP_APP, clientSecret: 'the secret id' }));
      await expectEntraError(answer, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    });

    it('a scope without /.default', async () => {
      const scope = 'https://outlook.office365.com/IMAP.AccessAsUser.All';
      const answer = await requestToken(clientCredentials(BACKUP_APP, scope));
      await expectEntraError(
        answer,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    });

    it('a missing parameter and a body that is not a form', async () => {
      const { scope: _omitted, ...withoutScope } = clientCredentials(BACKUP_APP);
      await expectEntraError(await requestToken(withoutScope), 400, 'invalid_request', 900144, "parameter: 'scope'");

      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(clientCredentials(BACKUP_APP)),
      });
      const answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
      await expectEntraError(answer, 400, 'invalid_request', 900144, "parameter: 'grant_type'");
    });

    it('echoes the client-request-id as correlation id', async () => {
      const correlationId = '9a0d4f1e-3b6c-4e27-8f15-c2d7a8b9e0f3';
      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'client-request-id': correlationId },
        body: new URLSearchParams({ ...clientCredentials(BACKUP_APP), client_secret: 'wrong' }),
      });
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.correlation_id).toBe(correlationId);
      expect(body.error_description).toContain(`Correlation ID: ${correlationId}`);
    });

    it('issues no token for any of them', async () => {
      const before = idp.issued;
      await requestToken(clientCredentials({ ...BACKUP_APP, clientSecret: 'wrong' }));
      expect(idp.issued).toBe(before);
    });
  });

  it('register replaces an app: the new secret and roles count, the old secret no longer does', async () => {
    const app = { clientId: 'rotating-app', clientSecret: 'first', roles: [] };
    idp.register(app);
    expect((await requestToken(clientCredentials(app))).status).toBe(200);
    idp.register({ ...app, clientSecret: 'second', roles: ['IMAP.AccessAsApp'] });
    expect((await requestToken(clientCredentials(app))).status).toBe(401);
    const token = await accessToken({ clientId: app.clientId, clientSecret: 'second' });
    expect(decodePart(token, 1).roles).toEqual(['IMAP.AccessAsApp']);
  });

  describe('introspection', () => {
    it('answers active with the appid, the roles as scope and the expiry', async () => {
      const token = await accessToken(BACKUP_APP);
      expect(await introspect(token)).toEqual({
        active: true,
        appid: BACKUP_APP.clientId,
        scope: 'IMAP.AccessAsApp',
        exp: decodePart(token, 1).exp,
      });
      expect(await introspect(await accessToken(BARE_APP))).toMatchObject({ active: true, scope: '' });
    });

    it("gives as scope only the token's roles the app still holds", async () => {
      const app = {
        clientId: 'withdrawn-app',
        clientSecret: 'withdrawn-secret',
        roles: ['IMAP.AccessAsApp', 'Mail.Read'],
      };
      idp.register(app);
      const token = await accessToken(app);
      idp.register({ ...app, roles: ['Mail.Read'] });
      expect(await introspect(token)).toMatchObject({ active: true, scope: 'Mail.Read' });
    });

    it('answers inactive for garbage, a changed token, a token of another provider and an expired token', async () => {
      expect(await introspect('not-a-token')).toEqual({ active: false });

      const [header, payload, signature] = (await accessToken(BARE_APP)).split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      const elevated = Buffer.from(JSON.stringify({ ...claims, roles: ['IMAP.AccessAsApp'] })).toString('base64url');
      expect(await introspect(`${header}.${elevated}.${signature}`)).toEqual({ active: false });

      const other = await startTestIdentityProvider({
        tenant: idp.tenant,
        apps: [BACKUP_APP],
        tokenLifetimeSeconds: 0,
      });
      try {
        const foreign = (
          await post(`${other.authorityHost}/${other.tenant}/oauth2/v2.0/token`, clientCredentials(BACKUP_APP))
        ).body.access_token as string;
        expect(await introspect(foreign)).toEqual({ active: false });
        // Lifetime 0: expired as issued, even for the provider that signed it.
        expect(await post(other.introspectionUrl, { token: foreign })).toMatchObject({ body: { active: false } });
      } finally {
        await other.close();
      }
    });
  });

  it('answers 404 with JSON for unknown paths', async () => {
    const response = await fetch(`${idp.authorityHost}/${idp.tenant}/oauth2/v2.0/authorize`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
