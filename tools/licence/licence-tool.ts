/*
 * The vendor's licence tool: makes the vendor key pair and signs licences with it.
 *
 *   licence-tool keygen --out <dir>
 *   licence-tool sign --key <private.pem> --licensee <name> --features mlr --max-tenants N
 *                     --max-mailboxes N --expires <date> [--grace-days N] [--serial S] [--issued <date>]
 *   licence-tool verify --public-key <public.pem> <licence.json>
 *
 * The private key never goes anywhere near the MSP's platform: only the public key is configured
 * there (LICENSING_VENDOR_PUBLIC_KEY), and only signed licences are imported.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LICENCE_FORMAT, licenceDocumentSchema, type LicenceDocument } from '@mlr/contracts';
import {
  parseVendorPrivateKey,
  parseVendorPublicKey,
  signLicence,
  vendorKeyId,
  verifyLicence,
} from '../../apps/licensing/src/licences/licence-signature.js';

export interface ToolIo {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
}

/** A command-line mistake: printed with the usage, exit code 2. */
class UsageError extends Error {}

const USAGE = `usage:
  licence-tool keygen --out <dir>
  licence-tool sign --key <private.pem> --licensee <name> --features mlr[,<feature>...]
                    --max-tenants <n> --max-mailboxes <n> --expires <YYYY-MM-DD | ISO date-time>
                    [--grace-days <n>] (default 14) [--serial <serial>] [--issued <ISO date-time>]
  licence-tool verify --public-key <public.pem> <licence.json>
`;

export const PRIVATE_KEY_FILE = 'vendor-private.pem';
export const PUBLIC_KEY_FILE = 'vendor-public.pem';

function keygen(args: string[], io: ToolIo): void {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true });
  if (!values.out) throw new UsageError('keygen needs --out <dir>');
  const dir = resolve(values.out);
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  for (const path of [privatePath, publicPath]) {
    // A vendor key replaced by accident invalidates every licence signed with it: never overwrite.
    if (existsSync(path)) throw new UsageError(`${path} exists already; choose another --out directory`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644, flag: 'wx' });
  const der = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  io.out(
    [
      `vendor key ${vendorKeyId(publicKey)}`,
      `private key: ${privatePath} (mode 0600; keep it offline, it signs licences)`,
      `public key:  ${publicPath}`,
      'configure the licensing service with:',
      `LICENSING_VENDOR_PUBLIC_KEY=${der}`,
      '',
    ].join('\n'),
  );
}

function integer(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`sign needs --${name} <n>`);
    return fallback;
  }
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, not "${value}"`);
  return Number(value);
}

/** A plain date means the licence runs to the last millisecond of that day (UTC); a date-time is taken as given. */
export function expiryOf(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`);
    if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== value) {
      throw new UsageError(`--expires: "${value}" is not a calendar date`);
    }
    return new Date(start + 86_400_000 - 1).toISOString();
  }
  return isoDate('expires', value);
}

function isoDate(name: string, value: string): string {
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time)) {
    throw new UsageError(`--${name} must be a date (YYYY-MM-DD) or an ISO 8601 date-time, not "${value}"`);
  }
  return new Date(time).toISOString();
}

function signCommand(args: string[], io: ToolIo): void {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      licensee: { type: 'string' },
      features: { type: 'string', multiple: true },
      'max-tenants': { type: 'string' },
      'max-mailboxes': { type: 'string' },
      expires: { type: 'string' },
      'grace-days': { type: 'string' },
      serial: { type: 'string' },
      issued: { type: 'string' },
    },
    strict: true,
  });
  if (!values.key) throw new UsageError('sign needs --key <private.pem>');
  if (!values.licensee) throw new UsageError('sign needs --licensee <name>');
  if (!values.expires) throw new UsageError('sign needs --expires <date>');
  const features = (values.features ?? [])
    .flatMap((f) => f.split(','))
    .map((f) => f.trim())
    .filter(Boolean);
  const issuedAt = values.issued ? isoDate('issued', values.issued) : io.now().toISOString();
  const document: LicenceDocument = {
    format: LICENCE_FORMAT,
    serial: values.serial ?? `MLR-${issuedAt.slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`,
    licensee: values.licensee,
    features,
    maxTenants: integer('max-tenants', values['max-tenants']),
    maxProtectedMailboxes: integer('max-mailboxes', values['max-mailboxes']),
    issuedAt,
    expiresAt: expiryOf(values.expires),
    graceDays: integer('grace-days', values['grace-days'], 14),
  };
  const checked = licenceDocumentSchema.safeParse(document);
  if (!checked.success) {
    const problems = checked.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`);
    throw new UsageError(`the licence would not be valid: ${problems.join('; ')}`);
  }
  const privateKey = parseVendorPrivateKey(readFileSync(values.key, 'utf8'));
  io.out(`${JSON.stringify(signLicence(document, privateKey), null, 2)}\n`);
}

function verifyCommand(args: string[], io: ToolIo): number {
  const { values, positionals } = parseArgs({
    args,
    options: { 'public-key': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (!values['public-key'] || positionals.length !== 1) {
    throw new UsageError('verify needs --public-key <public.pem> and one licence file');
  }
  const key = parseVendorPublicKey(readFileSync(values['public-key'], 'utf8'));
  let licence: unknown;
  try {
    licence = JSON.parse(readFileSync(positionals[0] as string, 'utf8'));
  } catch (error) {
    io.err(`malformed licence: ${(error as Error).message}\n`);
    return 1;
  }
  const result = verifyLicence(licence, key, io.now());
  if (!result.ok) {
    io.err(`${result.message}\n`);
    return 1;
  }
  const { serial, licensee, expiresAt, graceDays } = result.licence.document;
  io.out(`licence ${serial} for ${licensee} is valid; expires ${expiresAt} (+${graceDays} days grace)\n`);
  return 0;
}

/** Runs one command; returns the exit code. */
export function run(argv: string[], io: ToolIo): number {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'keygen':
        keygen(args, io);
        return 0;
      case 'sign':
        signCommand(args, io);
        return 0;
      case 'verify':
        return verifyCommand(args, io);
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`licence-tool: ${(error as Error).message}\n${usage ? USAGE : ''}`);
    return usage ? 2 : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = run(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    now: () => new Date(),
  });
}
