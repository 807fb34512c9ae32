import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnectorConfig } from './connector-config.js';

function writeConfig(sources: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-connector-config-'));
  const path = join(dir, 'connector.json');
  writeFileSync(
    path,
    JSON.stringify({
      tenantId: '0193a000-0000-7000-8000-000000000001',
      connectorId: '0193a000-0000-7000-8000-000000000002',
      nats: { url: 'nats://127.0.0.1:4222', user: 'u', password: 'p' },
      stateDir: dir,
      ...sources,
    }),
  );
  return path;
}

function write(source: Record<string, unknown>): string {
  return writeConfig({ source: { kind: 'imap', host: 'outlook.office365.com', port: 993, secure: true, ...source } });
}

const app = { tenant: 'contoso.onmicrosoft.com', clientId: 'client-id', clientSecret: 'secret' };

describe('connector configuration: Microsoft 365 app', () => {
  it('takes the app with the public cloud and Exchange Online as defaults', () => {
    const config = loadConnectorConfig(write({ microsoft365App: app, mailboxes: [{ address: 'alice@contoso.com' }] }));
    expect(config.sources[0]?.microsoft365App).toEqual({
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
      loadConnectorConfig(write({ microsoft365App: { ...app, authorityHost: 'http://127.0.0.1:8080' } })).sources[0]
        ?.microsoft365App?.authorityHost,
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

describe('connector configuration: several sources', () => {
  const imap = (name: string, more: Record<string, unknown> = {}) => ({
    name,
    kind: 'imap',
    host: `${name}.example.com`,
    port: 993,
    secure: true,
    ...more,
  });

  it('takes one source as the source named default, and several each under its name', () => {
    expect(loadConnectorConfig(write({ mailboxes: [{ address: 'alice@example.com' }] })).sources).toEqual([
      expect.objectContaining({ name: 'default', host: 'outlook.office365.com' }),
    ]);
    const config = loadConnectorConfig(
      writeConfig({
        sources: [
          imap('onprem', { serviceAccount: { user: 'backup', password: 'x' }, mailboxes: [{ address: 'a@x.com' }] }),
          imap('cloud', { microsoft365App: app, mailboxes: [{ address: 'b@x.com' }] }),
        ],
      }),
    );
    expect(config.sources.map((source) => [source.name, source.host, source.mailboxes.length])).toEqual([
      ['onprem', 'onprem.example.com', 1],
      ['cloud', 'cloud.example.com', 1],
    ]);
  });

  it('refuses both forms at once, none, names twice, a mailbox in two sources, and bad source names', () => {
    expect(() => loadConnectorConfig(writeConfig({ source: imap('x'), sources: [imap('y')] }))).toThrow();
    expect(() =>
      loadConnectorConfig(writeConfig({ source: { kind: 'imap', host: 'h', port: 143 }, sources: [imap('y')] })),
    ).toThrow(/sources: give source \(one mail system\) or sources \(several\), not both/);
    expect(() => loadConnectorConfig(writeConfig({}))).toThrow(/no mail system is configured/);
    expect(() => loadConnectorConfig(writeConfig({ sources: [] }))).toThrow(/sources/);
    expect(() => loadConnectorConfig(writeConfig({ sources: [imap('same'), imap('same')] }))).toThrow(
      /sources\.1\.name: same names two sources/,
    );
    expect(() =>
      loadConnectorConfig(
        writeConfig({
          sources: [
            imap('one', { mailboxes: [{ address: 'Alice@x.com', password: 'p' }] }),
            imap('two', { mailboxes: [{ address: 'alice@X.com', password: 'q' }] }),
          ],
        }),
      ),
    ).toThrow(/mailbox alice@X\.com is in sources one and two: a mailbox belongs to one source/);
    expect(() => loadConnectorConfig(writeConfig({ sources: [imap('Bad Name')] }))).toThrow(
      /sources\.0\.name.*lower-case letters/s,
    );
    expect(() =>
      loadConnectorConfig(
        writeConfig({
          sources: [imap('m365', { microsoft365App: app, serviceAccount: { user: 'b', password: 'x' } })],
        }),
      ),
    ).toThrow(/sources\.0\.microsoft365App.*not both/s);
  });

  it("asks which source's public folders when several could be backed up, and checks the sources it names", () => {
    const withAccount = (name: string) =>
      imap(name, { serviceAccount: { user: 'b', password: 'x' }, mailboxes: [{ address: `${name}@x.com` }] });
    expect(() => loadConnectorConfig(writeConfig({ sources: [withAccount('a'), withAccount('b')] }))).toThrow(
      /publicFoldersSource: several sources \(a, b\) could back up public folders/,
    );
    expect(
      loadConnectorConfig(writeConfig({ sources: [withAccount('a'), withAccount('b')], publicFoldersSource: 'b' }))
        .publicFoldersSource,
    ).toBe('b');
    expect(
      loadConnectorConfig(
        writeConfig({ sources: [withAccount('a'), withAccount('b')], backup: { publicFolders: false } }),
      ).sources,
    ).toHaveLength(2);
    expect(() =>
      loadConnectorConfig(writeConfig({ sources: [withAccount('a'), imap('c')], defaultSource: 'nope' })),
    ).toThrow(/defaultSource: names no source: nope/);
    expect(() =>
      loadConnectorConfig(
        writeConfig({
          sources: [withAccount('a'), imap('c', { mailboxes: [{ address: 'z@x.com', password: 'p' }] })],
          defaultSource: 'c',
        }),
      ),
    ).toThrow(/defaultSource: c has no service account or Microsoft 365 app/);
  });
});
