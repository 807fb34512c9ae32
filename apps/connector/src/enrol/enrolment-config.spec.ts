import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConnectorConfig, natsCredentials } from '../config/connector-config.js';
import { readEnrolmentConfig, writeEnrolledConfig } from './enrolment-config.js';

describe('configuration before and after enrolment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-enrol-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const source = { kind: 'imap', host: 'mail.example', port: 143, mailboxes: [{ address: 'alice' }] };

  it('reads a configuration without tenant, connector or NATS credentials, and writes the enrolled one', () => {
    const path = join(dir, 'connector.json');
    writeFileSync(
      path,
      JSON.stringify({
        nats: { url: 'nats://127.0.0.1:4222' },
        source,
        stateDir: join(dir, 'state'),
        logLevel: 'warn',
      }),
    );
    const { raw, config } = readEnrolmentConfig(path);
    expect(config.tenantId).toBeUndefined();
    const credsFile = join(dir, 'state', 'nats.creds');
    writeEnrolledConfig(path, raw, { tenantId: 'acme', connectorId: 'c-1', credsFile });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      tenantId: 'acme',
      connectorId: 'c-1',
      nats: { url: 'nats://127.0.0.1:4222', credsFile },
    });
    expect(written['logLevel']).toBe('warn');
    const loaded = loadConnectorConfig(path);
    expect(() => natsCredentials(loaded)).toThrow(/cannot read the NATS creds file .*connector enroll/);
  });

  it('drops an old user and password in favour of the creds file', () => {
    const path = join(dir, 'old.json');
    writeFileSync(
      path,
      JSON.stringify({
        tenantId: 'acme',
        connectorId: 'c-0',
        nats: { url: 'nats://127.0.0.1:4222', user: 'u', password: 'p' },
        source,
        stateDir: dir,
      }),
    );
    const { raw } = readEnrolmentConfig(path);
    writeEnrolledConfig(path, raw, { tenantId: 'acme', connectorId: 'c-1', credsFile: join(dir, 'x.creds') });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({
      connectorId: 'c-1',
      nats: { url: 'nats://127.0.0.1:4222', credsFile: join(dir, 'x.creds') },
    });
    expect(readFileSync(path, 'utf8')).not.toMatch(/"password"/);
  });

  it('refuses a configuration that gives both kinds of NATS credentials, or neither', () => {
    const path = join(dir, 'both.json');
    const base = { tenantId: 'acme', connectorId: 'c-1', source, stateDir: dir };
    writeFileSync(
      path,
      JSON.stringify({ ...base, nats: { url: 'nats://h:1', credsFile: 'x', user: 'u', password: 'p' } }),
    );
    expect(() => loadConnectorConfig(path)).toThrow(/credsFile.*not both/);
    writeFileSync(path, JSON.stringify({ ...base, nats: { url: 'nats://h:1' } }));
    expect(() => loadConnectorConfig(path)).toThrow(/NATS credentials are missing/);
  });
});
