/*
 * Access tokens for the gateway, for development, tests and the demo (production tokens come from
 * the MSP's identity provider, signed with its own key; the gateway only needs its public key).
 *
 *   npm run token -- keygen --out <dir> [--alg EdDSA|ES256]
 *   npm run token -- sign --key <private.pem> --sub <id> --role operator|tenant_admin|user
 *                         [--tenant <id>] [--mailboxes a@x,b@x] [--issuer <iss>] [--audience <aud>] [--ttl 1h]
 *   npm run token -- verify --public-key <public.pem> [--issuer <iss>] [--audience <aud>] <token>
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { accessTokenClaimsSchema, PRINCIPAL_ROLES } from '@mlr/contracts';
import { TokenRejected, TokenVerifier, type TokenAlgorithm } from '../../apps/gateway/src/auth/token-verifier.js';

export interface ToolIo {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
}

/** A command-line mistake: printed with the usage, exit code 2. */
class UsageError extends Error {}

export const DEFAULT_ISSUER = 'mlr-local-dev';
export const DEFAULT_AUDIENCE = 'mlr-api';
export const PRIVATE_KEY_FILE = 'token-private.pem';
export const PUBLIC_KEY_FILE = 'token-public.pem';

const USAGE = `usage:
  token keygen --out <dir> [--alg EdDSA|ES256] (default EdDSA)
  token sign --key <private.pem> --sub <subject> --role ${PRINCIPAL_ROLES.join('|')}
             [--tenant <tenant id>] (required for tenant_admin and user)
             [--mailboxes <a@x,b@x>] (the user's own and delegated mailboxes)
             [--issuer <iss>] (default ${DEFAULT_ISSUER}) [--audience <aud>] (default ${DEFAULT_AUDIENCE})
             [--ttl <30m | 8h | 7d>] (default 1h)
  token verify --public-key <public.pem> [--issuer <iss>] [--audience <aud>] <token>
`;

function keygen(args: string[], io: ToolIo): void {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string' }, alg: { type: 'string', default: 'EdDSA' } },
    strict: true,
  });
  if (!values.out) throw new UsageError('keygen needs --out <dir>');
  if (values.alg !== 'EdDSA' && values.alg !== 'ES256') {
    throw new UsageError(`--alg must be EdDSA or ES256, not "${values.alg}"`);
  }
  const dir = resolve(values.out);
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  for (const path of [privatePath, publicPath]) {
    if (existsSync(path)) throw new UsageError(`${path} exists already; choose another --out directory`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } =
    values.alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(publicPath, publicPem, { mode: 0o644, flag: 'wx' });
  io.out(
    [
      `${values.alg} token key pair`,
      `private key: ${privatePath} (mode 0600; it signs tokens)`,
      `public key:  ${publicPath}`,
      'configure the gateway with:',
      `AUTH_JWT_PUBLIC_KEY="${publicPem.trim().replace(/\n/g, '\\n')}"`,
      `AUTH_JWT_ISSUER=${DEFAULT_ISSUER}`,
      `AUTH_JWT_AUDIENCE=${DEFAULT_AUDIENCE}`,
      '',
    ].join('\n'),
  );
}

/** `30s`, `30m`, `8h`, `7d` → seconds. */
export function ttlSeconds(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new UsageError(`--ttl must be a number with s, m, h or d (e.g. 30m, 8h), not "${value}"`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds <= 0) throw new UsageError('--ttl must be longer than 0');
  if (seconds > 366 * 86_400) throw new UsageError('--ttl must be at most a year: tokens must expire');
  return seconds;
}

function algorithmOfPrivateKey(pem: string): TokenAlgorithm {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new UsageError(`the key is a ${key.asymmetricKeyType} key: tokens are signed with Ed25519 or P-256 keys`);
}

async function signCommand(args: string[], io: ToolIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      sub: { type: 'string' },
      role: { type: 'string' },
      tenant: { type: 'string' },
      mailboxes: { type: 'string' },
      issuer: { type: 'string', default: DEFAULT_ISSUER },
      audience: { type: 'string', default: DEFAULT_AUDIENCE },
      ttl: { type: 'string', default: '1h' },
    },
    strict: true,
  });
  if (!values.key) throw new UsageError('sign needs --key <private.pem>');
  const claims = accessTokenClaimsSchema.safeParse({
    sub: values.sub,
    role: values.role,
    ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
    mailboxes: values.mailboxes
      ? values.mailboxes
          .split(',')
          .map((mailbox) => mailbox.trim())
          .filter(Boolean)
      : [],
  });
  if (!claims.success) {
    const option = (path: string) => (path === 'sub' || path === 'role' || path === 'tenant' ? `--${path}` : path);
    throw new UsageError(
      claims.error.issues.map((issue) => `${option(issue.path.map(String).join('.'))}: ${issue.message}`).join('; '),
    );
  }
  const expiresIn = ttlSeconds(values.ttl);
  const pem = readFileSync(values.key, 'utf8');
  const alg = algorithmOfPrivateKey(pem);
  const now = Math.floor(io.now().getTime() / 1000);
  const { sub, role, tenant, mailboxes } = claims.data;
  const token = await new SignJWT({ role, mailboxes, ...(tenant ? { tenant } : {}) })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(values.issuer)
    .setAudience(values.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(createPrivateKey(pem));
  io.out(`${token}\n`);
}

async function verifyCommand(args: string[], io: ToolIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'public-key': { type: 'string' },
      issuer: { type: 'string', default: DEFAULT_ISSUER },
      audience: { type: 'string', default: DEFAULT_AUDIENCE },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!values['public-key']) throw new UsageError('verify needs --public-key <public.pem>');
  if (positionals.length !== 1) throw new UsageError('verify needs exactly one token');
  const verifier = await TokenVerifier.create({
    publicKey: readFileSync(values['public-key'], 'utf8'),
    issuer: values.issuer,
    audience: values.audience,
    clockToleranceSeconds: 0,
  });
  try {
    const principal = await verifier.verify(positionals[0] ?? '');
    io.out(`${JSON.stringify(principal)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof TokenRejected)) throw error;
    io.err(`token: refused: ${error.message}\n`);
    return 1;
  }
}

/** Runs one command; resolves to the exit code. */
export async function run(argv: string[], io: ToolIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'keygen':
        keygen(args, io);
        return 0;
      case 'sign':
        await signCommand(args, io);
        return 0;
      case 'verify':
        return await verifyCommand(args, io);
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`token: ${(error as Error).message}\n${usage ? USAGE : ''}`);
    return usage ? 2 : 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await run(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    now: () => new Date(),
  });
}
