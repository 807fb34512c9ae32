import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnectorConfig } from './connector-config.js';

function write(source: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-connector-config-'));
  const path = join(dir, 'connector.json');
  writeFileSync(
    path,
    JSON.stringify({
      tenantId: '0193a000-0000-7000-8000-000000000001',
      connectorId: '0193a000-0000-7000-8000-000000000002',
      nats: { url: 'nats://127.0.0.1:4222', user: 'u', password: 'p' },
      stateDir: dir,
      source: { kind: 'imap', host: 'outlook.office365.com', port: 993, secure: true, ...source },
    }),
  );
  return path;
}

const app = { tenant: 'contoso.onmicrosoft.com', clientId: 'client-id', clientSecret: 'secret' };

describe('connector configuration: Microsoft 365 app', () => {
  it('takes the app with the public cloud and Exchange Online as defaults', () => {
    const config = loadConnectorConfig(write({ microsoft365App: app, mailboxes: [{ address: 'alice@contoso.com' }] }));
    expect(config.source.microsoft365App).toEqual({
      ...app,
      authorityHost: 'https://login.microsoftonline.com',
      scope: 'https://outlook.office365.com/.default',
    });
  });

  it('refuses an app beside a service account, a scope without /.default and an authority that is not an origin', () => {
    expect(() =>
      loadConnectorConfig(write({ microsoft365App: app, serviceAccount: { user: 'backup', password: 'x' } })),
    ).toThrow(/source\.microsoft365App.*give serviceAccount or microsoft365App, not both/s);
    expect(() =>
      loadConnectorConfig(
        write({ microsoft365App: { ...app, scope: 'https://outlook.office365.com/IMAP.AccessAsApp' } }),
      ),
    ).toThrow(/source\.microsoft365App\.scope.*must end with \/\.default/s);
    expect(() =>
      loadConnectorConfig(
        write({ microsoft365App: { ...app, authorityHost: 'https://login.microsoftonline.com/contoso/oauth2' } }),
      ),
    ).toThrow(/source\.microsoft365App\.authorityHost.*must be the https origin of the identity platform/s);
    expect(() =>
      loadConnectorConfig(write({ microsoft365App: { ...app, authorityHost: 'http://login.microsoftonline.com' } })),
    ).toThrow(/source\.microsoft365App\.authorityHost.*must be the https origin/s);
    expect(
      loadConnectorConfig(write({ microsoft365App: { ...app, authorityHost: 'http://127.0.0.1:8080' } })).source
        .microsoft365App?.authorityHost,
    ).toBe('http://127.0.0.1:8080');
    expect(() =>
      loadConnectorConfig(
        write({ microsoft365App: app, mailboxes: [{ address: 'megan@contoso.com', password: 'x' }] }),
      ),
    ).toThrow(/source\.mailboxes.*no passwords with microsoft365App/s);
    expect(() => loadConnectorConfig(write({ microsoft365App: { tenant: 'contoso' } }))).toThrow(
      /source\.microsoft365App\.clientId/,
    );
  });
});
