import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdentityProvider, type TestIdentityProvider } from './identity-provider.js';

const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
const BACKUP_APP = {
  clientId: '5f1c3a52-7d0e-4b8a-9c61-2a4e8d9b0c17',
  clientSecret: 'backup~secret',
  roles: ['IMAP.AccessAsApp'],
};
const BARE_APP = { clientId: '0b7e2d94-1c35-4f6a-8e20-9d4c7b1a3e58', clientSecret: 'bare~secret', roles: [] };
/** An app a mailbox owner signs in to with the device code flow ("own credentials"). */
const SIGN_IN_APP = {
  clientId: '7c2e9a41-5b8d-4f30-a6e1-3d9f0b4c8e72',
  clientSecret: 'sign-in~secret',
  roles: [],
  delegatedPermissions: [
    'https://outlook.office365.com/IMAP.AccessAsUser.All',
    'https://graph.microsoft.com/User.Read',
  ],
};
const OWN_MAILBOX_SCOPE = 'https://outlook.office365.com/IMAP.AccessAsUser.All offline_access';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function post(url: string, form: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(form) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function expectEntraError(answer: TokenAnswer, status: number, error: string, code: number, text: string): void {
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
    idp = await startTestIdentityProvider({ apps: [BACKUP_APP, BARE_APP, SIGN_IN_APP] });
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
    it('an unknown tenant', async () => {
      const answer = await requestToken(
        clientCredentials(BACKUP_APP),
        `${idp.authorityHost}/contoso.onmicrosoft.com/oauth2/v2.0/token`,
      );
      expectEntraError(answer, 400, 'invalid_request', 90002, "Tenant 'contoso.onmicrosoft.com' not found.");
    });

    it('a grant type other than client_credentials', async () => {
      const answer = await requestToken({ ...clientCredentials(BACKUP_APP), grant_type: 'password' });
      expectEntraError(answer, 400, 'unsupported_grant_type', 70003, "unsupported grant type 'password'");
    });

    it('an unknown client id', async () => {
      const answer = await requestToken(clientCredentials({ clientId: 'no-such-app', clientSecret: 'x' }));
      expectEntraError(
        answer,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier 'no-such-app' was not found in the directory '${idp.tenant}'.`,
      );
    });

    it('a wrong client secret', async () => {
      const answer = await requestToken(clientCredentials({ ...BACKUP_APP, clientSecret: 'the secret id' }));
      expectEntraError(answer, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    });

    it('a scope without /.default', async () => {
      const scope = 'https://outlook.office365.com/IMAP.AccessAsUser.All';
      const answer = await requestToken(clientCredentials(BACKUP_APP, scope));
      expectEntraError(
        answer,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    });

    it('a missing parameter and a body that is not a form', async () => {
      const { scope: _omitted, ...withoutScope } = clientCredentials(BACKUP_APP);
      expectEntraError(await requestToken(withoutScope), 400, 'invalid_request', 900144, "parameter: 'scope'");

      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(clientCredentials(BACKUP_APP)),
      });
      const answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
      expectEntraError(answer, 400, 'invalid_request', 900144, "parameter: 'grant_type'");
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
        // RFC 7662's resource owner: for an app-only token, the app itself.
        username: BACKUP_APP.clientId,
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

  describe('device code flow (a user signs in with their own account)', () => {
    const deviceCodeUrl = () => `${idp.authorityHost}/${idp.tenant}/oauth2/v2.0/devicecode`;
    const startDeviceCode = (scope = OWN_MAILBOX_SCOPE, clientId = SIGN_IN_APP.clientId, url = deviceCodeUrl()) =>
      post(url, { client_id: clientId, scope });
    const deviceCodeOf = async (scope?: string) => {
      const answer = await startDeviceCode(scope);
      expect(answer.status).toBe(200);
      return answer.body.device_code as string;
    };
    const redeem = (deviceCode: string, extra: Record<string, string> = {}) =>
      requestToken({
        grant_type: DEVICE_CODE_GRANT,
        client_id: SIGN_IN_APP.clientId,
        device_code: deviceCode,
        ...extra,
      });
    const signedIn = async (user: string, scope?: string) => {
      idp.signInWithDeviceCode(() => ({ user }));
      const answer = await redeem(await deviceCodeOf(scope));
      expect(answer.status).toBe(200);
      return answer;
    };

    afterEach(() => {
      idp.signInWithDeviceCode(undefined);
    });

    it("starts like Entra: a nine-character user code, Microsoft's sign-in page, 15 minutes, every 5 seconds", async () => {
      const answer = await startDeviceCode();
      expect(answer.status).toBe(200);
      const userCode = answer.body.user_code as string;
      expect(userCode).toMatch(/^[A-Z0-9]{9}$/);
      expect(answer.body).toEqual({
        user_code: userCode,
        device_code: expect.stringMatching(/^[A-Za-z0-9_-]{100,}$/),
        verification_uri: 'https://microsoft.com/devicelogin',
        expires_in: 900,
        interval: 5,
        message: `To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ${userCode} to authenticate.`,
      });
      expect((await startDeviceCode()).body.device_code).not.toBe(answer.body.device_code);
    });

    it('answers authorization_pending while nobody has signed in, then a delegated token once', async () => {
      const deviceCode = await deviceCodeOf();
      expectEntraError(await redeem(deviceCode), 400, 'authorization_pending', 70016, 'Authorization is pending.');

      const before = idp.issued;
      idp.signInWithDeviceCode(() => ({ user: 'megan@contoso.example', name: 'Megan Bowen' }));
      const answer = await redeem(deviceCode);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        token_type: 'Bearer',
        // Outside Microsoft Graph the granted scopes carry their resource; offline_access is no permission.
        scope: 'https://outlook.office365.com/IMAP.AccessAsUser.All',
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: expect.any(String),
      });
      expect(idp.issued).toBe(before + 1);

      const token = answer.body.access_token as string;
      expect(decodePart(token, 0)).toEqual({ typ: 'JWT', alg: 'RS256', kid: expect.any(String) });
      const claims = decodePart(token, 1);
      expect(claims).toMatchObject({
        aud: 'https://outlook.office365.com',
        iss: `https://sts.windows.net/${idp.tenant}/`,
        tid: idp.tenant,
        appid: SIGN_IN_APP.clientId,
        appidacr: '0',
        idtyp: 'user',
        scp: 'IMAP.AccessAsUser.All',
        upn: 'megan@contoso.example',
        unique_name: 'megan@contoso.example',
        name: 'Megan Bowen',
        oid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        ver: '1.0',
      });
      expect(claims).not.toHaveProperty('roles');
      expect(claims.sub).toEqual(expect.any(String));
      expect(claims.sub).not.toBe(claims.oid);
      expect(claims.exp).toBe((claims.iat as number) + 3599);

      // One token per device code.
      expectEntraError(await redeem(deviceCode), 400, 'invalid_grant', 54005, 'already redeemed');
      expect(idp.issued).toBe(before + 1);
    });

    it('asks the sign-in handler at each poll until it decides, with the user code and the scopes', async () => {
      const start = await startDeviceCode();
      const requests: unknown[] = [];
      idp.signInWithDeviceCode((request) => {
        requests.push(request);
        return requests.length < 3 ? 'pending' : { user: 'bob@example.com' };
      });
      const deviceCode = start.body.device_code as string;
      expect((await redeem(deviceCode)).body.error).toBe('authorization_pending');
      expect((await redeem(deviceCode)).body.error).toBe('authorization_pending');
      const approved = await redeem(deviceCode);
      expect(approved.status).toBe(200);
      expect(requests).toEqual(
        Array(3).fill({
          userCode: start.body.user_code,
          clientId: SIGN_IN_APP.clientId,
          scopes: ['https://outlook.office365.com/IMAP.AccessAsUser.All', 'offline_access'],
        }),
      );
      // Without a name, the token names the user by the UPN.
      expect(decodePart(approved.body.access_token as string, 1).name).toBe('bob@example.com');
    });

    it('answers authorization_declined when the user declines, and keeps that answer', async () => {
      const deviceCode = await deviceCodeOf();
      idp.signInWithDeviceCode(() => 'decline');
      expectEntraError(await redeem(deviceCode), 400, 'authorization_declined', 65004, 'declined');
      idp.signInWithDeviceCode(() => ({ user: 'bob@example.com' }));
      expect((await redeem(deviceCode)).body.error).toBe('authorization_declined');
    });

    it('answers expired_token after expires_in, even once the user has signed in', async () => {
      const short = await startTestIdentityProvider({
        apps: [SIGN_IN_APP],
        deviceCodeLifetimeSeconds: 0,
        deviceCodeIntervalSeconds: 0,
      });
      try {
        short.signInWithDeviceCode(() => ({ user: 'bob@example.com' }));
        const start = await post(`${short.authorityHost}/${short.tenant}/oauth2/v2.0/devicecode`, {
          client_id: SIGN_IN_APP.clientId,
          scope: OWN_MAILBOX_SCOPE,
        });
        expect(start.body).toMatchObject({ expires_in: 0, interval: 0 });
        const answer = await post(`${short.authorityHost}/${short.tenant}/oauth2/v2.0/token`, {
          grant_type: DEVICE_CODE_GRANT,
          client_id: SIGN_IN_APP.clientId,
          device_code: start.body.device_code as string,
        });
        expectEntraError(answer, 400, 'expired_token', 70020, 'This device code has expired.');
        expect(short.issued).toBe(0);
      } finally {
        await short.close();
      }
    });

    it('answers bad_verification_code for an unknown device code or one of another app', async () => {
      idp.signInWithDeviceCode(() => ({ user: 'bob@example.com' }));
      expectEntraError(await redeem('no-such-code'), 400, 'bad_verification_code', 70018, "'device_code' is not valid");
      const othersCode = (await startDeviceCode(OWN_MAILBOX_SCOPE, BACKUP_APP.clientId)).body.device_code as string;
      expect((await redeem(othersCode)).body.error).toBe('bad_verification_code');
    });

    it('takes a confidential client that also sends its secret, and refuses a wrong one', async () => {
      idp.signInWithDeviceCode(() => ({ user: 'bob@example.com' }));
      const wrong = await redeem(await deviceCodeOf(), { client_secret: 'wrong' });
      expectEntraError(wrong, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      const right = await redeem(await deviceCodeOf(), { client_secret: SIGN_IN_APP.clientSecret });
      expect(decodePart(right.body.access_token as string, 1).appidacr).toBe('1');
    });

    it('gives a user the same object id in every token, whatever the case of the UPN', async () => {
      const first = decodePart((await signedIn('Bob@Example.com')).body.access_token as string, 1);
      const second = decodePart((await signedIn('bob@example.com')).body.access_token as string, 1);
      const other = decodePart((await signedIn('alice@example.com')).body.access_token as string, 1);
      expect(first.upn).toBe('Bob@Example.com');
      expect(second.oid).toBe(first.oid);
      expect(other.oid).not.toBe(first.oid);
    });

    it("reads scope as Entra does: <resource>/.default is the registration's delegated permissions, a bare name is Graph's", async () => {
      const byDefault = await signedIn('bob@example.com', 'https://outlook.office365.com/.default offline_access');
      expect(byDefault.body.scope).toBe('https://outlook.office365.com/IMAP.AccessAsUser.All');
      expect(decodePart(byDefault.body.access_token as string, 1).scp).toBe('IMAP.AccessAsUser.All');

      const graph = decodePart(
        (await signedIn('bob@example.com', 'User.Read openid profile')).body.access_token as string,
        1,
      );
      expect(graph).toMatchObject({ aud: 'https://graph.microsoft.com', scp: 'User.Read' });
    });

    describe('refuses to start like Entra ID', () => {
      it('an unknown tenant and a GET', async () => {
        const answer = await startDeviceCode(
          OWN_MAILBOX_SCOPE,
          SIGN_IN_APP.clientId,
          `${idp.authorityHost}/contoso.onmicrosoft.com/oauth2/v2.0/devicecode`,
        );
        expectEntraError(answer, 400, 'invalid_request', 90002, "Tenant 'contoso.onmicrosoft.com' not found.");
        const response = await fetch(deviceCodeUrl());
        expect(response.status).toBe(400);
        expect(((await response.json()) as Record<string, unknown>).error_codes).toEqual([900561]);
      });

      it('an unknown client id and a missing scope', async () => {
        const answer = await startDeviceCode(OWN_MAILBOX_SCOPE, 'no-such-app');
        expectEntraError(answer, 400, 'unauthorized_client', 700016, "Application with identifier 'no-such-app'");
        const noScope = await post(deviceCodeUrl(), { client_id: SIGN_IN_APP.clientId });
        expectEntraError(noScope, 400, 'invalid_request', 900144, "parameter: 'scope'");
      });

      it('scopes of two resources, or of none', async () => {
        const two = await startDeviceCode('https://outlook.office365.com/IMAP.AccessAsUser.All User.Read');
        expectEntraError(two, 400, 'invalid_scope', 28000, 'contains more than one resource');
        expectEntraError(await startDeviceCode('openid offline_access'), 400, 'invalid_scope', 70011, 'is not valid');
      });

      it('an application permission, which no user can grant', async () => {
        const answer = await startDeviceCode('https://outlook.office365.com/IMAP.AccessAsApp');
        expectEntraError(answer, 400, 'invalid_scope', 650053, "asked for scope 'IMAP.AccessAsApp' that doesn't exist");
      });

      it('<resource>/.default for a resource the registration lists no permission of', async () => {
        const answer = await startDeviceCode('https://outlook.office365.com/.default', BACKUP_APP.clientId);
        expectEntraError(
          answer,
          400,
          'invalid_client',
          650057,
          'Resource value from request: https://outlook.office365.com.',
        );
      });
    });

    it("introspects a user's token: the user as upn and username, the delegated permissions as scope", async () => {
      const token = (await signedIn('megan@contoso.example')).body.access_token as string;
      expect(await introspect(token)).toEqual({
        active: true,
        appid: SIGN_IN_APP.clientId,
        upn: 'megan@contoso.example',
        username: 'megan@contoso.example',
        scope: 'IMAP.AccessAsUser.All',
        exp: decodePart(token, 1).exp,
      });
    });

    it('refuses option values that are not non-negative integers', async () => {
      await expect(startTestIdentityProvider({ deviceCodeIntervalSeconds: -1 })).rejects.toThrow(
        /deviceCodeIntervalSeconds/,
      );
      await expect(startTestIdentityProvider({ deviceCodeLifetimeSeconds: 1.5 })).rejects.toThrow(
        /deviceCodeLifetimeSeconds/,
      );
    });
  });

  it('answers 404 with JSON for unknown paths', async () => {
    const response = await fetch(`${idp.authorityHost}/${idp.tenant}/oauth2/v2.0/authorize`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
