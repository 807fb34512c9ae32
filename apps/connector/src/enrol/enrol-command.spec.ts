import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY_WARNINGS } from '@mlr/contracts';
import { exportRecoveryKit, generateRootKey, rootKeyId } from '@mlr/crypto';
import { loadConnectorConfig } from '../config/connector-config.js';
import { runEnrolCommand } from './enrol-command.js';

const TOKEN = `mlr-enrol-${'x'.repeat(43)}`;
const PASSPHRASE = 'a long recovery passphrase';

describe('connector enroll (against a stand-in gateway)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlr-enrol-command-'));
  let server: Server;
  let gatewayUrl: string;
  const received: Array<Record<string, unknown>> = [];
  /** What the stand-in gateway answers next. */
  let answer: { status: number; body: unknown } = { status: 201, body: {} };

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ path: request.url, ...(JSON.parse(body) as Record<string, unknown>) });
        response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    gatewayUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function config(name: string, extra: Record<string, unknown> = {}): string {
    const path = join(dir, `${name}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        nats: { url: 'nats://127.0.0.1:4222' },
        source: { kind: 'imap', host: 'mail.example', port: 143, mailboxes: [{ address: 'alice' }] },
        stateDir: join(dir, name),
        ...extra,
      }),
    );
    return path;
  }

  const enrolled = (tenantId: string, connectorId: string) => ({
    tenantId,
    connectorId,
    userJwt: 'eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln',
    inboxPrefix: `_INBOX_${tenantId}`,
  });

  async function enrol(
    configPath: string,
    extra: { recoveryKitPath?: string; passphraseFromEnv?: string } = {},
  ): Promise<{ code: number; out: string }> {
    let out = '';
    const code = await runEnrolCommand({
      ...extra,
      configPath,
      gatewayUrl,
      token: TOKEN,
      agentVersion: '9.9.9',
      print: (text) => (out += text),
      checkCapability: async () => ({
        receiveAs: 'no',
        warnings: [CAPABILITY_WARNINGS.notFullAdministrator],
        checkedAt: '2026-11-24T10:00:00.000Z',
        finding: 'stand-in check',
      }),
    });
    return { code, out };
  }

  it('sends only the public key, then writes the creds (0600), the key and the configuration', async () => {
    answer = { status: 201, body: enrolled('acme', 'c-1') };
    const path = config('ok');
    const { code, out } = await enrol(path);
    expect(code).toBe(0);
    const sent = received.at(-1)!;
    expect(sent).toMatchObject({
      path: '/v1/enrolments',
      token: TOKEN,
      agentVersion: '9.9.9',
      sourceKind: 'imap',
      capability: { receiveAs: 'no', warnings: [CAPABILITY_WARNINGS.notFullAdministrator] },
    });
    expect(sent['natsPublicKey']).toMatch(/^U[A-Z2-7]{55}$/);
    expect(JSON.stringify(sent)).not.toMatch(/SU[A-Z2-7]{50,}/);
    // The key id of the key it made travels; the key does not.
    const root = readFileSync(join(dir, 'ok', 'tenant.key'), 'utf8').trim();
    expect(sent['tenantKeyId']).toBe(rootKeyId(Buffer.from(root, 'hex')));
    expect(JSON.stringify(sent)).not.toContain(root);

    const loaded = loadConnectorConfig(path);
    expect(loaded).toMatchObject({ tenantId: 'acme', connectorId: 'c-1' });
    const creds = readFileSync(loaded.nats.credsFile!, 'utf8');
    expect(statSync(loaded.nats.credsFile!).mode & 0o777).toBe(0o600);
    expect(creds).toContain(enrolled('acme', 'c-1').userJwt);
    expect(creds).toMatch(/SU[A-Z2-7]{50,}/);
    expect(out).toContain(`WARNING: ${CAPABILITY_WARNINGS.notFullAdministrator}`);
    expect(out).toMatch(/Created the tenant key/);
    expect(out).toMatch(/connector export-recovery-kit/);
    expect(out).toMatch(/backups cannot be read by anyone/);
  });

  it("refuses to keep one tenant's key for another tenant's connector, writing nothing", async () => {
    answer = { status: 201, body: enrolled('acme', 'c-1') };
    const path = config('switch');
    await enrol(path);
    const before = readFileSync(path, 'utf8');
    answer = { status: 201, body: enrolled('globex', 'c-9') };
    await expect(enrol(path)).rejects.toThrow(
      /holds the key of tenant acme, but the token enrolled a connector of tenant globex/,
    );
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it("passes on the gateway's refusal and writes nothing", async () => {
    answer = {
      status: 403,
      body: { statusCode: 403, error: 'forbidden', message: 'token: this enrolment token expired on 2026-11-23' },
    };
    const path = config('refused');
    await expect(enrol(path)).rejects.toThrow(/expired on/);
    expect(existsSync(join(dir, 'refused'))).toBe(false);
  });

  it("passes on the refusal of a key that is not the tenant's, writing neither creds nor key", async () => {
    const message =
      'tenantKeyId: the backups of tenant acme are sealed with tenant key 0123456789abcdef, but this connector would ' +
      "use key fedcba9876543210; every connector of a tenant must use the tenant's key. Import it with " +
      '--recovery-kit <file> (a recovery kit made by "connector export-recovery-kit" on a connector that has the key). ' +
      'The token was not used';
    answer = { status: 409, body: { statusCode: 409, error: 'conflict', message, field: 'tenantKeyId' } };
    const path = config('other-key');
    const before = readFileSync(path, 'utf8');
    await expect(enrol(path)).rejects.toThrow(/sealed with tenant key 0123456789abcdef.*--recovery-kit <file>/);
    expect(received.at(-1)?.['tenantKeyId']).toMatch(/^[0-9a-f]{16}$/);
    expect(existsSync(join(dir, 'other-key'))).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('sends the id of the key it keeps, and of the key it imports from a recovery kit', async () => {
    answer = { status: 201, body: enrolled('acme', 'c-2') };
    const kept = config('kept');
    mkdirSync(join(dir, 'kept'));
    const root = generateRootKey();
    writeFileSync(join(dir, 'kept', 'tenant.key'), `${root.toString('hex')}\n`, { mode: 0o600 });
    const { out } = await enrol(kept);
    expect(received.at(-1)?.['tenantKeyId']).toBe(rootKeyId(root));
    expect(out).toContain(`Kept the tenant key ${rootKeyId(root)}`);

    const kitFile = join(dir, 'kit.json');
    writeFileSync(kitFile, await exportRecoveryKit(root, PASSPHRASE));
    const imported = config('imported');
    const { out: importedOut } = await enrol(imported, { recoveryKitPath: kitFile, passphraseFromEnv: PASSPHRASE });
    expect(received.at(-1)?.['tenantKeyId']).toBe(rootKeyId(root));
    expect(importedOut).toContain(`Imported the tenant key ${rootKeyId(root)}`);
    expect(readFileSync(join(dir, 'imported', 'tenant.key'), 'utf8').trim()).toBe(root.toString('hex'));
  });

  it('refuses something that is not an enrolment token before calling anyone', async () => {
    const calls = received.length;
    await expect(
      runEnrolCommand({
        configPath: config('badtoken'),
        gatewayUrl,
        token: 'hello',
        agentVersion: '1',
        print: () => undefined,
      }),
    ).rejects.toThrow(/is not one: it starts with "mlr-enrol-"/);
    expect(received.length).toBe(calls);
  });
});
