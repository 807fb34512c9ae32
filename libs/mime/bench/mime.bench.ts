/**
 * Extraction speed on ~50 KiB messages built from corpus mail, and on the whole corpus.
 * Run: node --import @swc-node/register/esm-register libs/mime/bench/mime.bench.ts [--mailparser]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { simpleParser } from 'mailparser';
import { extractMessageFacts } from '../src/index.js';
import { corpusEntries, readCorpusFile } from '../test/corpus.js';

const TARGET_SIZE = 50 * 1024;
const MIN_SECONDS = 3;

/**
 * A ~50 KiB message that keeps a corpus message's own header block and body, wrapped in
 * multipart/mixed with a base64 attachment making up the size: real headers, realistic structure.
 */
function fiftyKiB(raw: Buffer, index: number): Buffer {
  const text = raw.toString('latin1');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const split = text.search(/\r?\n\r?\n/);
  const head = split >= 0 ? text.slice(0, split) : text;
  const body = split >= 0 ? text.slice(split).replace(/^\r?\n\r?\n/, '') : '';
  const headerLines = head.split(/\r?\n(?![ \t])/);
  const isMime = (line: string) => /^(content-type|content-transfer-encoding|mime-version)\s*:/i.test(line);
  const kept = headerLines.filter((line) => !isMime(line));
  const partHeaders = headerLines.filter((line) => /^(content-type|content-transfer-encoding)\s*:/i.test(line));
  const boundary = `----=_bench_${index}`;
  const pre = [
    ...kept,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    ...partHeaders,
    '',
    body,
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="report.bin"',
    'Content-Disposition: attachment; filename="report.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join(eol);
  const room = Math.max(0, TARGET_SIZE - Buffer.byteLength(pre, 'latin1') - boundary.length - 16);
  const base64 = randomBytes(Math.floor((room * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, `$&${eol}`);
  return Buffer.from(`${pre}${base64}${eol}--${boundary}--${eol}`, 'latin1');
}

function measure(label: string, messages: Buffer[], run: (m: Buffer) => unknown): void {
  const bytes = messages.reduce((sum, m) => sum + m.length, 0);
  for (const m of messages) run(m); // warm-up
  let count = 0;
  let total = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (const m of messages) run(m);
    count += messages.length;
    total += bytes;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < MIN_SECONDS);
  const avg = bytes / messages.length / 1024;
  console.log(
    `${label.padEnd(44)} ${messages.length.toString().padStart(4)} msgs, avg ${avg.toFixed(1).padStart(6)} KiB: ` +
      `${Math.round(count / elapsed)
        .toString()
        .padStart(6)} msg/s, ${(total / elapsed / 1e6).toFixed(1).padStart(6)} MB/s`,
  );
}

async function measureAsync(label: string, messages: Buffer[], run: (m: Buffer) => Promise<unknown>): Promise<void> {
  const bytes = messages.reduce((sum, m) => sum + m.length, 0);
  const start = performance.now();
  for (const m of messages) await run(m);
  const elapsed = (performance.now() - start) / 1000;
  console.log(
    `${label.padEnd(44)} ${messages.length.toString().padStart(4)} msgs: ${Math.round(messages.length / elapsed)} msg/s, ` +
      `${(bytes / elapsed / 1e6).toFixed(1)} MB/s`,
  );
}

const corpus = corpusEntries('eml').map((e) => readCorpusFile(e.path));
const small = corpus.filter((m) => m.length < TARGET_SIZE - 2048);
const built = small.map((m, i) => fiftyKiB(m, i));

console.log(`node ${process.version}, one core, no timing assertions`);
measure('extractMessageFacts, ~50 KiB built messages', built, (m) => extractMessageFacts(m));
measure('extractMessageFacts, whole corpus (eml kind)', corpus, (m) => extractMessageFacts(m));
if (process.argv.includes('--mailparser')) {
  const sample = built.slice(0, 200);
  await measureAsync('mailparser simpleParser (reference), 50 KiB', sample, (m) => simpleParser(m));
}
