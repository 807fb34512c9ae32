// `npm run bench:search`: loads 1,000,000 index records of one tenant (200 mailboxes, 3 years) into
// its own durable PostgreSQL, then runs typical searches through the real indexing service over NATS
// and prints p50/p95 latency per search and overall beside the same SQL run directly on PostgreSQL
// (the ceiling of the same run), CPU of the whole process tree, and the plans of searches that scan
// a whole table; writes the result to bench/results. What it measures: a search request's round
// trip over NATS to the indexing service, which runs the SQL and answers, the reply validated — not
// the gateway's HTTP API. A failed search or a load that did not store every record fails the run
// (exit code 1); the aim p95 < 50 ms is reported, not enforced.
//   npm run bench:search [-- --records 1000000 --mailboxes 200 --runs 50 --fast --keep --reuse DIR]
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import pg from 'pg';
import { firstValueFrom, timeout } from 'rxjs';
import { searchRequestSchema, searchResultSchema, serviceSubject, type SearchResult } from '@mlr/contracts';
import { REPO_ROOT, servicesNatsClientOptions, startApp, startInfrastructure } from '@mlr/testing';
import { toSearchFilter } from '../../apps/indexing/src/search/record-search.js';
import { SEARCH_EFFECTIVE_CACHE_SIZE } from '../../apps/indexing/src/search/repositories/search.repository.js';
import { searchStatement } from '../../apps/indexing/src/search/search-sql.js';
import { migrate } from '../../deploy/local/infra.js';
import { printSettings, readSettings, runBench } from './bench-platform.js';
import { gitState, machineState, writeResult, type BenchResult } from './bench-result.js';
import { cpuResult, printResult, rssTargets } from './bench-report.js';
import { MeasuredWindow } from './measured-window.js';

const TENANT = 'bench-search';
/** The latency aim for p95; slowest runs above it have their plans printed. */
const AIM_MS = 50;
const DAY_MS = 86_400_000;
const END = Date.UTC(2026, 10, 1);
const START = END - 3 * 365 * DAY_MS;

/** Deterministic, so that two runs load the same data. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const FIRST = ['anna', 'ben', 'carla', 'david', 'elif', 'felix', 'greta', 'hugo', 'ines', 'jonas', 'kim', 'lena'];
const LAST = ['meyer', 'schmidt', 'rossi', 'dubois', 'novak', 'silva', 'smith', 'jensen', 'kowalski', 'yilmaz'];
const TOPICS = [
  'budget',
  'invoice',
  'contract',
  'meeting',
  'project',
  'report',
  'offer',
  'delivery',
  'payment',
  'workshop',
  'roadmap',
  'release',
  'audit',
  'hiring',
  'onboarding',
  'migration',
  'renewal',
  'forecast',
  'newsletter',
  'support',
];
const PROJECTS = ['falcon', 'aurora', 'zenith', 'orbit', 'nimbus', 'cobalt', 'granite', 'harbor'];
const SUBJECT_FORMS = [
  (t: string, p: string) => `${cap(t)} for project ${cap(p)}`,
  (t: string, _p: string, n: number) => `${cap(t)} ${2023 + (n % 4)}-${String(n % 10_000).padStart(4, '0')}`,
  (t: string, p: string) => `Quarterly ${t} review (${cap(p)})`,
  (t: string) => `Question about the ${t}`,
  (t: string, p: string) => `${cap(p)}: ${t} status update`,
  (t: string, _p: string, n: number) => `Your ${t} #${n % 100_000}`,
];
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

interface World {
  mailboxes: string[];
  externals: string[];
  names: Map<string, string>;
}

function world(mailboxCount: number, random: () => number): World {
  const names = new Map<string, string>();
  const person = (domain: string, i: number) => {
    const first = FIRST[i % FIRST.length] as string;
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length] as string;
    const address = `${first}.${last}${i >= FIRST.length * LAST.length ? i : ''}@${domain}`;
    names.set(address, `${cap(first)} ${cap(last)}`);
    return address;
  };
  const mailboxes = Array.from({ length: mailboxCount }, (_, i) => person('contoso.example', i));
  const domains = Array.from(
    { length: 300 },
    (_, i) => `${['acme', 'globex', 'initech', 'umbrella', 'stark'][i % 5]}${i}.example`,
  );
  const externals = Array.from({ length: 5_000 }, (_, i) =>
    person(domains[Math.floor(random() * random() * domains.length)] as string, i),
  );
  return { mailboxes, externals, names };
}

/** Index of a skewed pick: a few values are frequent, most are rare (as senders and topics are). */
const skewed = (random: () => number, n: number) => Math.min(n - 1, Math.floor(n * random() ** 2.5));

function generateRecord(w: World, index: number, random: () => number): Record<string, unknown> {
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)] as T;
  const mailbox = w.mailboxes[index % w.mailboxes.length] as string;
  const folderRoll = random();
  const folder =
    folderRoll < 0.6
      ? 'INBOX'
      : folderRoll < 0.8
        ? 'Sent Items'
        : folderRoll < 0.9
          ? `Archive/${2023 + Math.floor(random() * 4)}`
          : `Projects/${cap(pick(PROJECTS))}`;
  const sent = folder === 'Sent Items';
  const colleague = () => w.mailboxes[skewed(random, w.mailboxes.length)] as string;
  const external = () => w.externals[skewed(random, w.externals.length)] as string;
  const sender = sent ? mailbox : random() < 0.4 ? colleague() : external();
  const to = sent ? [random() < 0.5 ? colleague() : external()] : [mailbox];
  if (random() < 0.3) to.push(random() < 0.5 ? colleague() : external());
  const cc = random() < 0.25 ? [colleague()] : [];
  if (random() < 0.1) cc.push(external());
  const bcc = sent && random() < 0.05 ? [colleague()] : [];
  const topic = TOPICS[skewed(random, TOPICS.length)] as string;
  const n = Math.floor(random() * 1_000_000);
  const subject = `${random() < 0.3 ? 'Re: ' : random() < 0.1 ? 'Fwd: ' : ''}${pick(SUBJECT_FORMS)(topic, pick(PROJECTS), n)}`;
  const attachmentNames: string[] = [];
  if (random() < 0.25) {
    const count = 1 + Math.floor(random() * random() * 3);
    for (let i = 0; i < count; i++) {
      attachmentNames.push(
        pick([
          `invoice-${n % 100_000}.pdf`,
          `Q${1 + (n % 4)}-${topic}-report.xlsx`,
          `IMG_${n % 10_000}.jpg`,
          `contract-${pick(PROJECTS)}.docx`,
          `${topic}-presentation.pptx`,
          `scan${n % 1_000}.pdf`,
        ]),
      );
    }
  }
  const date = START + Math.floor(random() * (END - START));
  const undatedHeader = random() < 0.01;
  const itemRoll = random();
  const contentId = createHash('sha256').update(`${TENANT}:${index}`).digest('hex');
  return {
    id: randomUUID(),
    object_id: randomUUID(),
    tenant_id: TENANT,
    mailbox,
    folder,
    uid_validity: 1,
    uid: index + 1,
    content_id: contentId,
    message_id: `<${contentId.slice(0, 24)}@${sender.split('@')[1]}>`,
    submission_date: undatedHeader ? null : new Date(date).toISOString(),
    internal_date: new Date(date + 1_000 + Math.floor(random() * 600_000)).toISOString(),
    sender,
    sender_name: w.names.get(sender) ?? null,
    to_addresses: to,
    cc_addresses: cc,
    bcc_addresses: bcc,
    subject,
    attachment_names: attachmentNames,
    has_attachment: attachmentNames.length > 0,
    follow_up: random() < 0.06,
    importance: random() < 0.05 ? 'high' : random() < 0.03 ? 'low' : 'normal',
    item_type: itemRoll < 0.95 ? 'mail' : itemRoll < 0.98 ? 'appointment' : 'task',
    seen: sent || random() < 0.85,
    answered: random() < 0.2,
    flagged: random() < 0.05,
    size: Math.floor(2_000 * Math.exp(random() * 8)),
    backup_job_id: `nightly-${Math.floor(random() * 30)}`,
  };
}

/** One statement per batch: the stored objects and their index records, as one JSON parameter. */
const INSERT_BATCH = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
    id text, object_id text, tenant_id text, mailbox text, folder text, uid_validity bigint, uid bigint,
    content_id text, message_id text, submission_date timestamptz, internal_date timestamptz, sender text,
    sender_name text, to_addresses text[], cc_addresses text[], bcc_addresses text[], subject text,
    attachment_names text[], has_attachment boolean, follow_up boolean, importance "importance",
    item_type "item_type", seen boolean, answered boolean, flagged boolean, size bigint, backup_job_id text)
),
objects AS (
  INSERT INTO stored_objects (id, tenant_id, content_id, bucket, key, plain_size, sealed_size, key_id, ref_count)
  SELECT object_id, tenant_id, content_id, 'mlr-objects',
    'tenants/' || tenant_id || '/objects/' || left(content_id, 2) || '/' || content_id, size, size + 120, 'bench-key', 1
  FROM input
)
INSERT INTO index_records (
  id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, message_id, submission_date,
  internal_date, sender, sender_name, to_addresses, cc_addresses, bcc_addresses, subject, attachment_names,
  has_attachment, follow_up, importance, item_type, seen, answered, flagged, size, backup_job_id, updated_at)
SELECT
  id, tenant_id, mailbox, folder, uid_validity, uid, content_id, object_id, message_id, submission_date,
  internal_date, sender, sender_name, to_addresses, cc_addresses, bcc_addresses, subject, attachment_names,
  has_attachment, follow_up, importance, item_type, seen, answered, flagged, size, backup_job_id, now()
FROM input`;

async function load(pool: pg.Pool, w: World, total: number, batchSize: number, workers: number): Promise<void> {
  let next = 0;
  let done = 0;
  const started = Date.now();
  let lastReport = started;
  const worker = async (seed: number) => {
    const random = prng(seed);
    for (;;) {
      const from = next;
      if (from >= total) return;
      next = Math.min(total, from + batchSize);
      const rows = [];
      for (let i = from; i < next; i++) rows.push(generateRecord(w, i, random));
      await pool.query(INSERT_BATCH, [JSON.stringify(rows)]);
      done += rows.length;
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        const seconds = (lastReport - started) / 1000;
        console.log(`  ${done.toLocaleString('en')} records, ${Math.round(done / seconds).toLocaleString('en')}/s`);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(1_000 + i)));
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `loaded ${total.toLocaleString('en')} index records (and as many stored objects) in ${seconds.toFixed(1)} s = ` +
      `${Math.round(total / seconds).toLocaleString('en')} records/s (batches of ${batchSize}, ${workers} connections, all search indexes in place)`,
  );
}

type Criteria = Record<string, unknown>;

interface Scenario {
  name: string;
  /** Criteria for run `i` (varied, so that not every run hits the same cached rows). */
  criteria(i: number, random: () => number): Criteria;
  /** Measure the second page instead of the first. */
  secondPage?: boolean;
}

function scenarios(w: World): Scenario[] {
  const pick = <T>(values: readonly T[], random: () => number) => values[Math.floor(random() * values.length)] as T;
  const window = (random: () => number, days: number) => {
    const from = START + Math.floor(random() * (END - START - days * DAY_MS));
    return { fromDate: new Date(from).toISOString(), toDate: new Date(from + days * DAY_MS).toISOString() };
  };
  return [
    { name: 'mailbox + 30-day range', criteria: (_i, r) => ({ mailboxes: [pick(w.mailboxes, r)], ...window(r, 30) }) },
    { name: 'sender (exact)', criteria: (_i, r) => ({ from: w.externals[skewed(r, w.externals.length)] }) },
    { name: 'sender domain', criteria: (_i, r) => ({ from: pick(w.externals, r).split('@')[1] }) },
    { name: 'recipient (to/cc/bcc)', criteria: (_i, r) => ({ to: pick(w.mailboxes, r) }) },
    { name: 'subject word', criteria: (_i, r) => ({ subject: pick(TOPICS, r) }) },
    { name: 'subject, rare text', criteria: (_i, r) => ({ subject: `#${Math.floor(r() * 100_000)}` }) },
    { name: 'full text word', criteria: (_i, r) => ({ text: pick([...TOPICS, ...PROJECTS], r) }) },
    { name: 'full text, two words', criteria: (_i, r) => ({ text: `${pick(TOPICS, r)} ${pick(PROJECTS, r)}` }) },
    {
      name: 'attachment name',
      criteria: (_i, r) => ({ attachmentName: pick(['invoice', '.pptx', 'contract-', 'report'], r) }),
    },
    {
      name: 'attachment, rare name',
      criteria: (_i, r) => ({ attachmentName: `invoice-${Math.floor(r() * 100_000)}.pdf` }),
    },
    { name: 'has attachment + 7-day range', criteria: (_i, r) => ({ hasAttachment: true, ...window(r, 7) }) },
    {
      name: 'mailbox + unread + follow-up',
      criteria: (_i, r) => ({ mailboxes: [pick(w.mailboxes, r)], seen: false, followUp: true }),
    },
    {
      name: 'second page (mailbox, cursor)',
      criteria: (_i, r) => ({ mailboxes: [pick(w.mailboxes, r)] }),
      secondPage: true,
    },
    { name: 'everything, first page', criteria: () => ({}) },
  ];
}

const describe = (error: unknown) =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

/** What the benchmark times: said in its output and in its result file. */
const WHAT_IS_MEASURED =
  "a search's round trip: request over NATS (core request/reply) to the indexing service, which runs the SQL " +
  "on PostgreSQL, and the reply back, validated; not the gateway's HTTP API";

async function main(): Promise<boolean> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      mailboxes: { type: 'string', default: '200' },
      runs: { type: 'string', default: '50' },
      batch: { type: 'string', default: '5000' },
      /** PostgreSQL without fsync: not durable, never written to bench/results. */
      fast: { type: 'boolean', default: false },
      /** Leave the state directory (database included) for inspection or --reuse. */
      keep: { type: 'boolean', default: false },
      /** State directory of an earlier --keep run with the same --records and --mailboxes: skip the load. */
      reuse: { type: 'string' },
    },
  });
  const total = Number(values.records);
  const runs = Number(values.runs);
  const startedAt = new Date().toISOString();
  const dir = values.reuse ?? mkdtempSync(join(REPO_ROOT, 'tmp', 'bench-search-'));
  console.log(
    `bench:search — ${total.toLocaleString('en')} records, ${values.mailboxes} mailboxes, ${runs} runs per search; state in ${dir}`,
  );
  console.log(`measures: ${WHAT_IS_MEASURED}`);
  const { infra, stop: stopInfra } = await startInfrastructure({
    dir: join(dir, 'infra'),
    services: ['postgres', 'nats'],
    durable: !values.fast,
  });
  const databaseUrl = infra.postgres?.databaseUrl;
  if (!infra.nats || !databaseUrl) throw new Error('the benchmark needs PostgreSQL and NATS');
  migrate(databaseUrl);
  const settings = await readSettings(infra);
  printSettings(settings);
  // The planner settings the indexing service searches with, so that EXPLAIN and the direct SQL
  // ceiling use the same plans.
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 2,
    options: `-c effective_cache_size=${SEARCH_EFFECTIVE_CACHE_SIZE}`,
  });
  // An idle connection dropped by the server must not end the run before the figures are printed.
  pool.on('error', (error) => console.error(`database connection: ${error.message}`));
  let client: ClientProxy | undefined;
  let stopApp: (() => Promise<void>) | undefined;
  let result: BenchResult;
  try {
    const w = world(Number(values.mailboxes), prng(7));
    if (!values.reuse) {
      await pool.query(`INSERT INTO tenants (id, name, slug, updated_at) VALUES ($1, $1, $1, now())`, [TENANT]);
      await load(pool, w, total, Number(values.batch), 2);
    }
    // Independently of the loader: what the table holds.
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM index_records WHERE tenant_id = $1`, [
      TENANT,
    ]);
    const loaded = Number(rows[0]?.n);
    console.log(`${loaded.toLocaleString('en')} index records of ${TENANT} in the database`);
    let started = Date.now();
    // What autovacuum would have done by the time anyone searches: statistics, visibility map, and
    // the GIN indexes' pending lists merged.
    await pool.query('VACUUM ANALYZE index_records');
    console.log(`VACUUM ANALYZE in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const size = await pool.query<{ table: string; indexes: string }>(
      `SELECT pg_size_pretty(pg_table_size('index_records')) AS table, pg_size_pretty(pg_indexes_size('index_records')) AS indexes`,
    );
    console.log(`index_records: table ${size.rows[0]?.table}, indexes ${size.rows[0]?.indexes}`);

    const app = await startApp({
      app: 'indexing',
      env: { ...infra.serviceEnv, LOG_LEVEL: 'warn' },
      logDir: join(dir, 'logs'),
    });
    stopApp = () => app.stop();
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: servicesNatsClientOptions(infra) });
    await client.connect();
    const proxy = client;
    const search = async (criteria: Criteria): Promise<SearchResult> =>
      searchResultSchema.parse(
        await firstValueFrom(
          proxy
            .send(serviceSubject('indexing', 'records.search'), {
              tenantId: TENANT,
              visibleMailboxes: 'all',
              ...criteria,
            })
            .pipe(timeout(30_000)),
        ),
      );

    // Warm-up: connections, the service's first requests, PostgreSQL's caches as in a running system.
    started = Date.now();
    for (const scenario of scenarios(w)) for (let i = 0; i < 3; i++) await search(scenario.criteria(i, prng(99 + i)));
    console.log(`warm-up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    const window = await MeasuredWindow.open({
      nameOf: (pid) => (pid === process.pid ? 'bench (this process)' : pid === app.pid ? 'indexing' : undefined),
    });
    const all: number[] = [];
    const failures: string[] = [];
    let failedSearches = 0;
    const measured: Array<{
      scenario: Scenario;
      times: number[];
      hits: number;
      slowest: { ms: number; criteria: Criteria };
    }> = [];
    for (const scenario of scenarios(w)) {
      const random = prng(scenario.name.length * 7_919);
      const times: number[] = [];
      let hits = 0;
      let slowest = { ms: -1, criteria: {} as Criteria };
      for (let i = 0; i < runs; i++) {
        const criteria = { ...scenario.criteria(i, random), limit: 50 };
        let cursor: string | undefined;
        if (scenario.secondPage) cursor = (await search(criteria)).nextCursor ?? undefined;
        const t0 = process.hrtime.bigint();
        try {
          const page = await search({ ...criteria, ...(cursor ? { cursor } : {}) });
          hits += page.items.length;
        } catch (error) {
          // A refused or timed-out search still counts, with its time: it is what the user waited.
          failures.push(`${scenario.name} ${JSON.stringify(criteria)}: ${describe(error)}`);
          failedSearches++;
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        times.push(ms);
        if (ms > slowest.ms) slowest = { ms, criteria };
      }
      times.sort((a, b) => a - b);
      all.push(...times);
      measured.push({ scenario, times, hits, slowest });
    }
    const figures = await window.close();
    all.sort((a, b) => a - b);

    // The ceiling: the same first-page statements straight on PostgreSQL, after the timed window.
    const direct = new Map<string, number[]>();
    for (const { scenario } of measured) {
      if (scenario.secondPage) continue;
      const random = prng(scenario.name.length * 7_919);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const request = searchRequestSchema.parse({
          tenantId: TENANT,
          visibleMailboxes: 'all',
          ...scenario.criteria(i, random),
          limit: 50,
        });
        const filter = toSearchFilter(request);
        if (!filter) continue;
        const statement = searchStatement(filter, null, request.limit + 1);
        const t0 = process.hrtime.bigint();
        await pool.query(statement.text, statement.values);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      direct.set(
        scenario.name,
        times.sort((a, b) => a - b),
      );
    }
    const allDirect = [...direct.values()].flat().sort((a, b) => a - b);

    console.log('search                          p50 ms   p95 ms   max ms   avg hits/page   direct SQL p50 / p95 ms');
    for (const { scenario, times, hits } of measured) {
      const sql = direct.get(scenario.name);
      console.log(
        `${scenario.name.padEnd(30)} ${percentile(times, 50).toFixed(1).padStart(7)}  ${percentile(times, 95).toFixed(1).padStart(7)}  ${(times.at(-1) ?? 0).toFixed(1).padStart(7)}   ${(hits / runs).toFixed(0).padStart(6)}          ${sql ? `${percentile(sql, 50).toFixed(1)} / ${percentile(sql, 95).toFixed(1)}` : '—'}`,
      );
    }
    console.log(
      `${'overall'.padEnd(30)} ${percentile(all, 50).toFixed(1).padStart(7)}  ${percentile(all, 95).toFixed(1).padStart(7)}  ${(all.at(-1) ?? 0).toFixed(1).padStart(7)}                   ${percentile(allDirect, 50).toFixed(1)} / ${percentile(allDirect, 95).toFixed(1)}`,
    );
    console.log(`\n(latency = ${WHAT_IS_MEASURED}; aim p95 < ${AIM_MS} ms)`);
    if (failures.length > 0) console.log(`\n${failures.length} searches failed:\n${failures.join('\n')}`);

    // The plan of the slowest run: printed when it scans a whole table or took longer than the aim.
    const plans: string[] = [];
    for (const { scenario, slowest } of measured) {
      const request = searchRequestSchema.parse({ tenantId: TENANT, visibleMailboxes: 'all', ...slowest.criteria });
      const filter = toSearchFilter(request);
      if (!filter) continue;
      const statement = searchStatement(filter, null, request.limit + 1);
      const explained = await pool.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`,
        statement.values,
      );
      const plan = explained.rows.map((row) => row['QUERY PLAN']).join('\n');
      if (/Seq Scan/.test(plan) || slowest.ms > AIM_MS) {
        const why = /Seq Scan/.test(plan) ? 'sequential scan' : `${slowest.ms.toFixed(0)} ms over NATS`;
        plans.push(`--- ${scenario.name} (${why}): ${JSON.stringify(slowest.criteria)}\n${plan}`);
      }
    }
    if (plans.length === 0) console.log(`no search used a sequential scan or took longer than ${AIM_MS} ms`);
    else console.log(`\nplans of slowest runs with a sequential scan or over the aim:\n${plans.join('\n\n')}`);

    const searches = measured.length * runs;
    const verification: BenchResult['verification'] = [
      { check: `index records of ${TENANT} in PostgreSQL`, expected: total, actual: loaded, ok: loaded === total },
    ];
    if (loaded !== total) failures.push(`the database holds ${loaded} index records of ${TENANT}, not ${total}`);
    const p95 = percentile(all, 95);
    const partial = { s3: null, cpu: cpuResult(figures, (name) => name === 'indexing') };
    result = {
      version: 1,
      bench: 'search',
      scenario: `${total}records-${values.mailboxes}mailboxes`,
      title: `${total.toLocaleString('en')} index records, ${values.mailboxes} mailboxes, ${measured.length} searches × ${runs} runs`,
      ok: failures.length === 0,
      failures,
      startedAt,
      git: gitState(),
      machine: machineState(figures.cores),
      settings,
      workload: { records: total, mailboxes: Number(values.mailboxes), searches: measured.length, runs },
      headline: { label: 'p95 of searches through the indexing service over NATS', value: p95, unit: 'ms' },
      achieved: { items: searches - failedSearches, expected: searches, unit: 'searches' },
      seconds: figures.seconds,
      mbPerSecond: null,
      ceilings: [
        {
          name: 'direct SQL',
          what: 'the same first-page statements run directly on the same PostgreSQL (no NATS, no service), p95',
          value: percentile(allDirect, 95),
          unit: 'ms p95',
          items: allDirect.length,
        },
      ],
      ...partial,
      jobs: [],
      verification,
      targets: [
        { name: 'search p95', target: `< ${AIM_MS} ms`, actual: `${p95.toFixed(1)} ms`, met: p95 < AIM_MS },
        ...rssTargets(partial.cpu),
      ],
      detail: {
        measures: WHAT_IS_MEASURED,
        p50Ms: percentile(all, 50),
        p95Ms: p95,
        maxMs: all.at(-1) ?? 0,
        directSqlP50Ms: percentile(allDirect, 50),
        directSqlP95Ms: percentile(allDirect, 95),
        searches: measured.map(({ scenario, times, hits }) => ({
          name: scenario.name,
          p50Ms: percentile(times, 50),
          p95Ms: percentile(times, 95),
          maxMs: times.at(-1) ?? 0,
          hitsPerPage: hits / runs,
          directSqlP95Ms: direct.has(scenario.name) ? percentile(direct.get(scenario.name) ?? [], 95) : null,
        })),
      },
    };
  } finally {
    await client?.close();
    await stopApp?.();
    await pool.end();
    await stopInfra();
    if (!values.keep && !values.reuse) rmSync(dir, { recursive: true, force: true });
  }
  printResult(result);
  console.log(`written: ${(await writeResult(result)).join(', ')}`);
  return result.ok;
}

runBench(main);
