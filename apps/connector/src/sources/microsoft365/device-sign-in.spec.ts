import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdentityProvider, type TestIdentityProvider } from '@mlr/testing';
import type { Microsoft365AppConfig } from '../../config/connector-config.js';
import { readJwtClaims } from './app-token.js';
import { delegatedImapScope, signInWithDeviceCode } from './device-sign-in.js';

const MEGAN = 'megan@contoso.test';

describe("a mailbox owner's own Microsoft 365 sign-in (device code)", () => {
  let identity: TestIdentityProvider;
  let app: Microsoft365AppConfig;
  const printed: string[] = [];
  const options = { login: MEGAN, print: (text: string) => printed.push(text) };

  beforeAll(async () => {
    identity = await startTestIdentityProvider({
      apps: [{ clientId: 'mlr-connector', clientSecret: 'secret', roles: [] }],
      deviceCodeIntervalSeconds: 0,
    });
    app = {
      tenant: identity.tenant,
      clientId: 'mlr-connector',
      clientSecret: 'secret',
      authorityHost: identity.authorityHost,
      scope: 'https://outlook.office365.com/.default',
    };
  });

  afterAll(async () => {
    await identity?.close();
  });

  it("shows Microsoft's instructions, waits for the owner, and returns their delegated IMAP token", async () => {
    printed.length = 0;
    let polls = 0;
    identity.signInWithDeviceCode(({ scopes }) => {
      expect(scopes).toEqual(['https://outlook.office365.com/IMAP.AccessAsUser.All']);
      return ++polls < 3 ? 'pending' : { user: MEGAN };
    });
    const token = await signInWithDeviceCode(app, options);
    expect(readJwtClaims(token)).toMatchObject({ upn: MEGAN, scp: 'IMAP.AccessAsUser.All' });
    expect(polls).toBe(3);
    expect(printed.join('')).toMatch(
      /^To sign in, use a web browser to open the page https:\/\/microsoft\.com\/devicelogin and enter the code [A-Z0-9]{9} to authenticate\.\nSign in as megan@contoso\.test\.\n$/,
    );
  });

  it('refuses the sign-in of someone else than the mailbox owner', async () => {
    identity.signInWithDeviceCode(() => ({ user: 'adele@contoso.test' }));
    await expect(signInWithDeviceCode(app, options)).rejects.toThrow(
      "the sign-in was adele@contoso.test's, but the mailbox is megan@contoso.test: sign in as megan@contoso.test (where the owner's sign-in name is not the mailbox address, give it with --sign-in-name)",
    );
  });

  it('takes the sign-in name the owner gives when it is not the mailbox address, in any letter case', async () => {
    identity.signInWithDeviceCode(() => ({ user: 'M.Bowen@contoso.onmicrosoft.com' }));
    const token = await signInWithDeviceCode(app, { ...options, signInName: 'm.bowen@contoso.onmicrosoft.com' });
    expect(readJwtClaims(token)).toMatchObject({ upn: 'M.Bowen@contoso.onmicrosoft.com' });
    await expect(signInWithDeviceCode(app, { ...options, signInName: 'someone@contoso.test' })).rejects.toThrow(
      "the sign-in was M.Bowen@contoso.onmicrosoft.com's, not someone@contoso.test's: sign in as someone@contoso.test",
    );
  });

  it('says so when the owner declines, or the code expires before they sign in', async () => {
    identity.signInWithDeviceCode(() => 'decline');
    await expect(signInWithDeviceCode(app, options)).rejects.toThrow(/was refused \(HTTP 400 authorization_declined\)/);

    identity.signInWithDeviceCode(() => 'pending');
    let clock = 0;
    const expired = signInWithDeviceCode(app, {
      ...options,
      now: () => clock,
      wait: async () => {
        clock += 60_000; // the code is good for 900 s
      },
    });
    await expect(expired).rejects.toThrow(
      /^the sign-in of megan@contoso\.test \(app mlr-connector, .*\) was not completed before its code expired: run the command again and sign in$/,
    );
  });

  it('names the app and tenant Entra did not know', async () => {
    await expect(signInWithDeviceCode({ ...app, clientId: 'unknown-app' }, options)).rejects.toThrow(
      /sign-in of megan@contoso\.test \(app unknown-app, Microsoft 365 tenant .*\) was refused \(HTTP 400 unauthorized_client\): AADSTS700016/,
    );
  });

  it("asks for IMAP.AccessAsUser.All on the app's resource", () => {
    expect(delegatedImapScope({ ...app, scope: 'https://outlook.office365.us/.default' })).toBe(
      'https://outlook.office365.us/IMAP.AccessAsUser.All',
    );
  });
});
