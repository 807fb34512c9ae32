import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ITEM_FORM_FILES, type SearchHit, type SearchResult } from '@mlr/contracts';
import { readEmlZip, readExportManifest } from '@mlr/connector-core';
import { sampleItemsOfEveryKind } from '@mlr/pim';
import { createLogger } from '@mlr/telemetry';
import { REPO_ROOT, addDovecotUser, fetchFolder, freePort, provisionConnector } from '@mlr/testing';
import { ConnectorAgent } from '../../apps/connector/src/agent.js';
import { loadConnectorConfig } from '../../apps/connector/src/config/connector-config.js';
import { InMemoryMailSource } from '../../libs/connector-core/src/testing/in-memory-ports.js';
import { PlatformFixture } from './support/platform-fixture.js';

const TENANT = 'e2e-kinds';
const CONNECTOR = 'kinds-connector';
/** A Dovecot user, so that what a mailbox can hold is restored into a real one. */
const OWNER = 'kim';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Items of every kind end to end (issue 15): a test adapter (the in-memory source of the connector
 * core) hands a connector appointments, tasks, notes, contacts, a phone message and a notification as
 * fields; the connector writes their canonical forms and publishes them; storage and indexing store
 * and index them; search finds them by kind and by their fields through the gateway; a restore puts
 * the mail-like ones into Dovecot and refuses the others with the reason; an items-zip export writes
 * every kind in its own form, which parsers that did not write them (Python's email, icalendar,
 * vobject) read back as they were given.
 */
describe('items of every kind, end to end', () => {
  const infra = inject('infra');
  const imap = infra.imap!;
  const dir = mkdtempSync(join(REPO_ROOT, 'tmp', 'e2e-kinds-'));
  const exportDir = join(dir, 'exports');
  const platform = new PlatformFixture(infra, dir);
  const samples = sampleItemsOfEveryKind(`${OWNER}@example.com`);
  let agent: ConnectorAgent;

  async function search(criteria: Record<string, unknown>): Promise<SearchHit[]> {
    const { status, body } = await platform.http<SearchResult>('POST', `/v1/tenants/${TENANT}/search`, {
      ...criteria,
      limit: 500,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    return body.items;
  }

  const subjects = (hits: SearchHit[]) => hits.map((hit) => hit.subject).sort();

  beforeAll(async () => {
    await addDovecotUser(join(infra.dir, 'dovecot'), { name: OWNER, password: `${OWNER}-password` });
    mkdirSync(exportDir, { recursive: true });
    await platform.startPlatform();
    const healthPort = await freePort();
    const connector = await provisionConnector(infra, {
      tenantId: TENANT,
      connectorId: CONNECTOR,
      dir,
      mailboxes: [OWNER],
      healthPort,
    });
    const configJson = JSON.parse(readFileSync(connector.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(connector.configFile, JSON.stringify({ ...configJson, restore: { exportDir } }, null, 2));

    const source = new InMemoryMailSource();
    source.add(
      OWNER,
      'INBOX',
      Buffer.from(
        'From: ann@example.com\r\nTo: kim@example.com\r\nSubject: plain mail\r\nMessage-ID: <plain@example.com>\r\nDate: Mon, 07 Dec 2026 08:00:00 +0000\r\n\r\nhello\r\n',
      ),
    );
    for (const item of samples) source.addStructured(OWNER, 'Items', item, ['\\Seen']);
    // Restores go to Dovecot, as configured; the source is the test adapter.
    agent = new ConnectorAgent(
      loadConnectorConfig(connector.configFile),
      createLogger({ service: 'connector-e2e-kinds', level: 'warn' }),
      { source },
    );
    await agent.start({ daemon: true });

    const planId = await platform.createPlan(TENANT, {
      name: 'kinds',
      connectorId: CONNECTOR,
      mailboxes: { kind: 'list', mailboxes: [OWNER] },
    });
    const job = await platform.waitForJob(TENANT, await platform.runPlan(TENANT, planId));
    expect(job.errors ?? []).toEqual([]);
    expect(job.state).toBe('succeeded');
    expect(job.counters.new).toBe(samples.length + 1);
    // Indexing follows storage: wait until every record is searchable.
    const deadline = Date.now() + 60_000;
    while ((await platform.prisma.indexRecord.count({ where: { tenantId: TENANT } })) < samples.length + 1) {
      if (Date.now() > deadline) throw new Error('the records were not indexed in time');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 600_000);

  afterAll(async () => {
    await agent?.stop();
    await platform.stop();
  });

  it('finds items by kind and form, and shows the fields of their kind', async () => {
    expect(subjects(await search({ itemType: 'appointment' }))).toEqual([
      'Office closed',
      'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
    ]);
    expect(subjects(await search({ form: 'vcard' }))).toEqual(['Dr. Zoë Müller-Lüdenscheidt', 'Sales team']);
    expect(subjects(await search({ itemType: 'mail' }))).toEqual(['plain mail']);
    const [meeting] = await search({ itemType: 'appointment', recurring: true });
    expect(meeting).toMatchObject({
      form: 'icalendar',
      subject: 'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
      date: '2026-12-14T09:00:00.000Z',
      from: { address: 'alice@example.com' },
      to: ['bob@example.com', 'carol@example.net'],
      flags: { seen: true },
      kindFields: {
        kind: 'appointment',
        start: '2026-12-14T09:00:00.000Z',
        end: '2026-12-14T10:30:00.000Z',
        timeZone: 'Europe/Berlin',
        location: 'Köln, Raum 3 (2. OG)',
        recurrence: 'FREQ=WEEKLY;BYDAY=MO;COUNT=10',
        status: 'confirmed',
      },
    });
    // Every search field of every kind, through the HTTP API.
    expect(subjects(await search({ startsFrom: '2026-12-14T00:00:00Z', startsTo: '2026-12-31T00:00:00Z' }))).toEqual([
      'Office closed',
      'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
    ]);
    expect(subjects(await search({ attendee: '@example.net' }))).toEqual([
      'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
    ]);
    expect(subjects(await search({ location: 'KÖLN' }))).toEqual(['Quartalsplanung – Büro Köln; Raum 3, 2. OG']);
    expect(subjects(await search({ dueTo: '2026-12-31T00:00:00Z', taskStatus: 'in-process' }))).toEqual([
      'Submit expense report',
    ]);
    expect(subjects(await search({ itemType: 'task', recurring: true }))).toEqual(['Renew certificates']);
    expect(subjects(await search({ name: 'müller' }))).toEqual(['Dr. Zoë Müller-Lüdenscheidt']);
    expect(subjects(await search({ email: 'dave@example.org' }))).toEqual(['Sales team']);
    expect(subjects(await search({ phone: '0221 1234567' }))).toEqual(['Dr. Zoë Müller-Lüdenscheidt']);
    const [call] = await search({ caller: 'weiß', callback: true, urgent: true });
    expect(call).toMatchObject({
      itemType: 'phone_message',
      form: 'rfc5322',
      importance: 'high',
      kindFields: { kind: 'phone_message', caller: 'Jörg Weiß', number: '+49 (221) 555-0199', durationSeconds: 95 },
    });
    expect(subjects(await search({ phone: '+49 221 5550199' }))).toEqual([call!.subject]);
    expect(await search({ itemType: 'phone_message', callback: false })).toEqual([]);
    // The query string of GET reads the same criteria.
    const { status, body } = await platform.http<SearchResult>(
      'GET',
      `/v1/tenants/${TENANT}/search?itemType=contact&email=%40beispiel.de`,
    );
    expect(status).toBe(200);
    expect(body.items.map((hit) => hit.kindFields?.kind)).toEqual(['contact']);
    // A field of one kind with another kind is refused, naming the field.
    const refused = await platform.http<{ message: string; field: string }>('POST', `/v1/tenants/${TENANT}/search`, {
      itemType: 'mail',
      dueFrom: '2026-01-01T00:00:00Z',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.field).toBe('dueFrom');
  });

  it('restores what a mailbox holds into Dovecot and refuses the others, each with the reason', async () => {
    const accepted = await platform.restore(TENANT, { query: { folder: 'Items' }, target: { kind: 'original' } });
    expect(accepted.itemCount).toBe(samples.length);
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.state).toBe('partially_failed');
    expect(job.counters.restored).toBe(2);
    expect(job.counters.failed).toBe(samples.length - 2);
    const { body } = await platform.http<{
      items: Array<{ outcome: string; reason: string | null; itemType: string; form: string }>;
    }>('GET', `/v1/tenants/${TENANT}/jobs/${accepted.jobId}/items?outcome=refused&limit=100`);
    expect(body.items).toHaveLength(samples.length - 2);
    for (const item of body.items) {
      expect(item.form).not.toBe('rfc5322');
      expect(item.reason).toMatch(
        /^an IMAP mailbox cannot hold this .* \(stored as (icalendar|vcard); it takes rfc5322\): export it with format items-zip$/,
      );
    }
    const served = [...(await fetchFolder(imap, OWNER, 'Items')).values()].map((m) => m.bytes.toString('utf8'));
    expect(served).toHaveLength(2);
    expect(served.some((text) => text.includes('X-MLR-Item-Type: phone_message'))).toBe(true);
    expect(served.some((text) => text.includes('X-MLR-Item-Type: notification'))).toBe(true);
  });

  it('exports every kind into an items-zip that independent parsers read back as it was given', async () => {
    const accepted = await platform.restore(TENANT, {
      query: { mailboxes: [OWNER] },
      target: { kind: 'export', format: 'items-zip', fileName: 'kim-items.zip' },
    });
    const job = await platform.waitForJob(TENANT, accepted.jobId);
    expect(job.state).toBe('succeeded');
    expect(job.counters.restored).toBe(samples.length + 1);
    const path = join(exportDir, 'kim-items.zip');
    const manifest = (await readExportManifest(path))!;
    const entries = await readEmlZip(path);
    expect(entries).toHaveLength(samples.length + 1);
    const files: string[] = [];
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked, { recursive: true });
    for (const listed of manifest.messages) {
      const entry = entries.find((e) => e.name === listed.entry)!;
      expect(sha256(entry.data)).toBe(listed.sha256);
      expect(listed.entry.endsWith(`.${ITEM_FORM_FILES[listed.form].extension}`)).toBe(true);
      const file = join(unpacked, listed.entry);
      writeFileSync(file, entry.data);
      files.push(file);
    }
    const parser = join(REPO_ROOT, 'libs', 'pim', 'test', 'parse_items.py');
    const parsed = JSON.parse(execFileSync('/usr/bin/python3', [parser, ...files], { encoding: 'utf8' })) as Record<
      string,
      Record<string, unknown> & { components?: Array<Record<string, unknown>> }
    >;
    const byName = (pattern: RegExp) => Object.entries(parsed).find(([file]) => pattern.test(file))?.[1];
    expect(byName(/Quartalsplanung.*\.ics$/)?.components?.[0]).toMatchObject({
      type: 'VEVENT',
      summary: 'Quartalsplanung – Büro Köln; Raum 3, 2. OG',
      dtstart: '2026-12-14T10:00:00+01:00',
      dtstart_tzid: 'Europe/Berlin',
      location: 'Köln, Raum 3 (2. OG)',
    });
    expect(byName(/Office_closed\.ics$/)?.components?.[0]).toMatchObject({
      dtstart: '2026-12-24',
      dtend: '2026-12-27',
    });
    expect(byName(/Submit_expense_report\.ics$/)?.components?.[0]).toMatchObject({
      type: 'VTODO',
      status: 'IN-PROCESS',
    });
    expect(byName(/Renew_certificates\.ics$/)?.components?.[0]).toMatchObject({ type: 'VTODO', status: 'COMPLETED' });
    expect(byName(/Wi-Fi_for_guests\.ics$/)?.components?.[0]).toMatchObject({ type: 'VJOURNAL' });
    expect(byName(/Muller-Ludenscheidt\.vcf$/)).toMatchObject({
      fn: 'Dr. Zoë Müller-Lüdenscheidt',
      emails: ['zoe.mueller@beispiel.de', 'zoe@home.example'],
      tels: ['+49 221 1234567', '0171 7654321'],
    });
    expect(byName(/Sales_team\.vcf$/)).toMatchObject({ kind: 'group' });
    expect(byName(/Phone_message.*\.eml$/)).toMatchObject({
      item_type: 'phone_message',
      caller: 'Jörg Weiß',
      defects: [],
    });
    expect(byName(/Reminder.*\.eml$/)).toMatchObject({ item_type: 'notification', defects: [] });
    expect(byName(/plain_mail\.eml$/)).toMatchObject({ subject: 'plain mail', defects: [] });
  });
});
