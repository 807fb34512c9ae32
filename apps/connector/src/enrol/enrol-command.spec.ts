import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY_WARNINGS } from '@mlr/contracts';
import { loadConnectorConfig } from '../config/connector-config.js';
import { runEnrolCommand } from './enrol-command.js';

const TOKEN = `mlr-enrol-${'x'.repeat(43)}`;

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

  async function enrol(configPath: string): Promise<{ code: number; out: string }> {
    let out = '';
    const code = await runEnrolCommand({
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
