import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Algorithms, encodeAccount, encodeOperator, encodeUser, fmtCreds, type KeyPair, type User } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromPublic, fromSeed } from '@nats-io/nkeys';
import { freePort, isAlive, readJson, spawnDaemon, stopPid, tailLog, waitFor, writeJson } from './process.js';
import type { LauncherOptions, ServiceHandle } from './types.js';

/** Publish/subscribe allow lists of one NATS user (deny everything else). */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

export interface NatsUser {
  user: string;
  password: string;
  /** Omitted: the user may use every subject of its account. */
  permissions?: NatsPermissions;
}

export interface NatsAccount {
  jetstream: boolean;
  users: NatsUser[];
}

export interface NatsInfo {
  url: string;
  port: number;
  monitorPort: number;
  /** Present when the server runs with accounts (authentication on). */
  systemUser?: NatsUser;
}

export interface NatsOptions extends LauncherOptions {
  /**
   * Accounts by name. Omitted: a single default account with JetStream and no authentication.
   * The system account (`SYS`) is added automatically when accounts are given.
   */
  accounts?: Record<string, NatsAccount>;
  /**
   * Operator (JWT) mode instead of `accounts`: the server trusts this operator; users authenticate
   * with a user JWT and their own NKey seed (see `createNatsOperator` and `natsUserCreds`). Account
   * JWTs live in a `full` resolver under `<dir>/resolver`, preloaded with the operator's accounts and
   * updatable at runtime by a system-account user (`$SYS.REQ.CLAIMS.UPDATE`, e.g. to revoke users);
   * a preloaded JWT never replaces a newer one the resolver already holds, so updates survive restarts.
   */
  operator?: NatsOperator;
}

/** One account of an operator-mode server, with the keys a test needs to mint its users. */
export interface NatsOperatorAccount {
  name: string;
  publicKey: string;
  /** Identity seed (`SA…`). */
  seed: string;
  /** A signing key of the account (its users' JWTs are signed with it), public and seed. */
  signingPublicKey: string;
  signingSeed: string;
  /** The account JWT, signed by the operator. */
  jwt: string;
}

export interface NatsOperator {
  operatorJwt: string;
  /** The operator's identity (`O…`). */
  operatorPublicKey: string;
  /**
   * An operator signing key listed in the operator JWT's `signing_keys`, public (`O…`) and seed
   * (`SO…`): account JWTs re-signed with it (e.g. with user revocations) are trusted by the server.
   */
  operatorSigningPublicKey: string;
  operatorSigningSeed: string;
  system: NatsOperatorAccount;
  accounts: Record<string, NatsOperatorAccount>;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** No limit on anything; with storage limits of -1 JetStream is enabled for the account. */
function accountLimits(jetstream: boolean) {
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  return jetstream
    ? { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1, max_ack_pending: -1 }
    : { ...unlimited, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 };
}

async function operatorAccount(name: string, operator: KeyPair, jetstream: boolean): Promise<NatsOperatorAccount> {
  const account = createAccount();
  const signing = createAccount();
  const jwt = await encodeAccount(
    name,
    fromPublic(account.getPublicKey()),
    { limits: accountLimits(jetstream), signing_keys: [signing.getPublicKey()] },
    { algorithm: Algorithms.v2, signer: operator },
  );
  return {
    name,
    publicKey: account.getPublicKey(),
    seed: text(account.getSeed()),
    signingPublicKey: signing.getPublicKey(),
    signingSeed: text(signing.getSeed()),
    jwt,
  };
}

/**
 * A fresh operator (with one signing key) and a system account (`SYS`) and the named accounts
 * (JetStream enabled for the ones in `jetstream`, by default all of them), for an operator-mode
 * server. The account JWTs are signed by the operator's identity key.
 */
export async function createNatsOperator(
  accountNames: string[] = ['MLR'],
  options: { jetstream?: string[] } = {},
): Promise<NatsOperator> {
  const operator = createOperator();
  const signing = createOperator();
  const system = await operatorAccount('SYS', operator, false);
  const accounts: Record<string, NatsOperatorAccount> = {};
  for (const name of accountNames) {
    accounts[name] = await operatorAccount(name, operator, (options.jetstream ?? accountNames).includes(name));
  }
  const operatorJwt = await encodeOperator(
    'MLR-LOCAL',
    operator,
    { system_account: system.publicKey, signing_keys: [signing.getPublicKey()] },
    { algorithm: Algorithms.v2 },
  );
  return {
    operatorJwt,
    operatorPublicKey: operator.getPublicKey(),
    operatorSigningPublicKey: signing.getPublicKey(),
    operatorSigningSeed: text(signing.getSeed()),
    system,
    accounts,
  };
}

/**
 * A user of an operator-mode account as a `.creds` text (JWT + seed), signed with the account's
 * signing key. Without `permissions` or `claims` the user may use every subject of the account.
 * `claims` are the user JWT's claims as they are (e.g. a connector's, as enrolment gives them).
 * Pass `seed` to mint for an existing key pair (a connector's own key).
 */
export async function natsUserCreds(
  account: Pick<NatsOperatorAccount, 'publicKey' | 'signingSeed'>,
  name: string,
  options: { permissions?: NatsPermissions; claims?: Partial<User>; seed?: string } = {},
): Promise<{ creds: string; publicKey: string; seed: string; jwt: string }> {
  if (options.permissions && options.claims) throw new Error('natsUserCreds: give permissions or claims, not both');
  const user = options.seed ? fromSeed(new TextEncoder().encode(options.seed)) : createUser();
  if (!user.getPublicKey().startsWith('U')) throw new Error(`natsUserCreds: the seed of ${name} is not a user seed`);
  const claims: Partial<User> =
    options.claims ??
    (options.permissions
      ? { pub: { allow: options.permissions.publish }, sub: { allow: options.permissions.subscribe } }
      : {});
  const jwt = await encodeUser(name, fromPublic(user.getPublicKey()), fromPublic(account.publicKey), claims, {
    algorithm: Algorithms.v2,
    signer: fromSeed(new TextEncoder().encode(account.signingSeed)),
  });
  return { creds: text(fmtCreds(jwt, user)), publicKey: user.getPublicKey(), seed: text(user.getSeed()), jwt };
}

/** Operator mode and where its files go (see `NatsOptions.operator`). */
interface OperatorConfig {
  setup: NatsOperator;
  /** The operator JWT is written here. */
  operatorFile: string;
  /** The `full` resolver's store of account JWTs. */
  resolverDir: string;
}

function renderOperatorMode(operator: OperatorConfig): string[] {
  const { setup } = operator;
  const preload = [setup.system, ...Object.values(setup.accounts)].map(
    (account) => `  ${account.publicKey}: ${quote(account.jwt)}`,
  );
  return [
    `operator: ${quote(operator.operatorFile)}`,
    `system_account: ${setup.system.publicKey}`,
    // `full`: the server keeps every account JWT in the directory and takes updates signed by the
    // operator (or its signing key) from the system account; deleting accounts stays off.
    `resolver: { type: full, dir: ${quote(operator.resolverDir)}, allow_delete: false, interval: "2m" }`,
    'resolver_preload: {',
    ...preload,
    '}',
  ];
}

/** How a server authenticates; a running server is reused only in the mode asked for. */
type NatsMode = 'open' | 'accounts' | `operator:${string}`;

interface NatsState {
  pid: number;
  port: number;
  monitorPort: number;
  /** Absent in state files of older versions (they only knew open and password-account servers). */
  mode?: NatsMode;
  systemUser?: NatsUser;
}

const SYSTEM_USER: NatsUser = { user: 'sys', password: 'sys-local-only' };

function quote(value: string): string {
  return JSON.stringify(value);
}

function renderUser(user: NatsUser): string {
  const fields = [`user: ${quote(user.user)}`, `password: ${quote(user.password)}`];
  if (user.permissions) {
    const list = (subjects: string[]) => `[${subjects.map(quote).join(', ')}]`;
    fields.push(
      `permissions: { publish: { allow: ${list(user.permissions.publish)} }, subscribe: { allow: ${list(user.permissions.subscribe)} } }`,
    );
  }
  return `{ ${fields.join(', ')} }`;
}

/** Renders a nats-server configuration; exported for tests and for `deploy/local`. */
export function renderNatsConfig(options: {
  port: number;
  monitorPort: number;
  storeDir: string;
  accounts?: Record<string, NatsAccount>;
  /** Operator mode (see `NatsOptions.operator`); the operator JWT is written to `operatorFile`. */
  operator?: OperatorConfig;
}): string {
  // Every tenant's upload quota (1 GiB by default) is reserved in the file store: tests make many
  // tenants. A reservation takes no disk; what is stored stays small.
  const lines = [
    `listen: "127.0.0.1:${options.port}"`,
    `http: "127.0.0.1:${options.monitorPort}"`,
    `max_payload: 1048576`,
    `jetstream { store_dir: ${quote(options.storeDir)}, max_memory_store: 268435456, max_file_store: 1099511627776 }`,
  ];
  if (options.operator) {
    lines.push(...renderOperatorMode(options.operator));
  } else if (options.accounts) {
    lines.push('accounts {');
    for (const [name, account] of Object.entries(options.accounts)) {
      lines.push(`  ${quote(name)}: {`);
      if (account.jetstream) lines.push('    jetstream: enabled');
      lines.push(`    users: [`);
      for (const user of account.users) lines.push(`      ${renderUser(user)}`);
      lines.push('    ]', '  }');
    }
    lines.push(`  SYS: { users: [ ${renderUser(SYSTEM_USER)} ] }`, '}', 'system_account: SYS');
  }
  return `${lines.join('\n')}\n`;
}

async function monitorHealthy(monitorPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`, {
      signal: AbortSignal.timeout(1_000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts nats-server with JetStream. State (config, JetStream store, account resolver, log,
 * state.json) lives in `dir`. After a stop, starting again with the same dir reuses the same ports
 * and keeps JetStream data, so clients reconnect by themselves (used by restart tests). A server
 * still running from the same dir is reused when it runs in the mode asked for (password accounts
 * are reloaded with the given users; an operator-mode server must have the same configuration);
 * otherwise it is stopped and started again in the new mode.
 */
export async function startNats(options: NatsOptions): Promise<ServiceHandle<NatsInfo>> {
  const dir = options.dir;
  mkdirSync(dir, { recursive: true });
  const stateFile = join(dir, 'state.json');
  const configFile = join(dir, 'nats.conf');
  const logFile = join(dir, 'nats.log');
  const storeDir = join(dir, 'jetstream');
  const previous = readJson<NatsState>(stateFile);
  if (options.operator && options.accounts) throw new Error('startNats: give either accounts or operator, not both');
  const operator: OperatorConfig | undefined = options.operator
    ? { setup: options.operator, operatorFile: join(dir, 'operator.jwt'), resolverDir: join(dir, 'resolver') }
    : undefined;
  const mode: NatsMode = operator
    ? `operator:${operator.setup.operatorPublicKey}`
    : options.accounts
      ? 'accounts'
      : 'open';
  const render = (ports: { port: number; monitorPort: number }) =>
    renderNatsConfig({ ...ports, storeDir, accounts: options.accounts, operator });

  const handleFor = (state: NatsState, reused: boolean): ServiceHandle<NatsInfo> => ({
    info: {
      url: `nats://127.0.0.1:${state.port}`,
      port: state.port,
      monitorPort: state.monitorPort,
      ...(state.systemUser ? { systemUser: state.systemUser } : {}),
    },
    reused,
    // The server running now: restartNats may have replaced the one this handle started.
    stop: () => stopPid(readJson<NatsState>(stateFile)?.pid ?? state.pid),
  });

  if (previous && isAlive(previous.pid) && (await monitorHealthy(previous.monitorPort))) {
    const runningMode = previous.mode ?? (previous.systemUser ? 'accounts' : 'open');
    const unchanged = (file: string, content: string) => existsSync(file) && readFileSync(file, 'utf8') === content;
    if (runningMode === mode && mode === 'accounts') {
      // Users may have been added since: a reload takes them without a restart.
      writeFileSync(configFile, render(previous));
      process.kill(previous.pid, 'SIGHUP');
      return handleFor(previous, true);
    }
    if (
      runningMode === mode &&
      (!operator ||
        (unchanged(configFile, render(previous)) && unchanged(operator.operatorFile, operator.setup.operatorJwt)))
    ) {
      return handleFor(previous, true);
    }
    // Another mode or another operator set-up (nats-server cannot switch by a reload): restart.
    await stopPid(previous.pid);
  }

  const port = previous?.port ?? (await freePort());
  const monitorPort = previous?.monitorPort ?? (await freePort());
  if (operator) {
    writeFileSync(operator.operatorFile, operator.setup.operatorJwt);
    mkdirSync(operator.resolverDir, { recursive: true });
  }
  writeFileSync(configFile, render({ port, monitorPort }));
  const pid = spawnDaemon({ name: 'nats', command: 'nats-server', args: ['-c', configFile], logFile });
  const state: NatsState = { pid, port, monitorPort, mode, ...(options.accounts ? { systemUser: SYSTEM_USER } : {}) };
  writeJson(stateFile, state);
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid)) throw new Error('nats-server exited');
        return monitorHealthy(monitorPort);
      },
      { what: `nats-server (${configFile}) to report healthy`, timeoutMs: 20_000 },
    );
  } catch (error) {
    await stopPid(pid);
    throw new Error(`${(error as Error).message}\n--- ${logFile} ---\n${tailLog(logFile)}`);
  }
  return handleFor(state, false);
}

/** Rewrites the accounts of a running server and asks it to reload (SIGHUP); resolves once it has. */
export async function reloadNatsAccounts(dir: string, accounts: Record<string, NatsAccount>): Promise<void> {
  const state = readJson<NatsState>(join(dir, 'state.json'));
  if (!state || !isAlive(state.pid)) throw new Error(`no running nats-server in ${dir}`);
  if (state.mode?.startsWith('operator:')) {
    throw new Error(
      `the nats-server in ${dir} runs in operator mode: its users are JWTs, there are no accounts to reload`,
    );
  }
  const logFile = join(dir, 'nats.log');
  const reloads = () =>
    existsSync(logFile) ? readFileSync(logFile, 'utf8').split('Reloaded server configuration').length - 1 : 0;
  const before = reloads();
  writeFileSync(join(dir, 'nats.conf'), renderNatsConfig({ ...state, storeDir: join(dir, 'jetstream'), accounts }));
  process.kill(state.pid, 'SIGHUP');
  await waitFor(() => reloads() > before, { what: 'nats-server to reload its configuration', timeoutMs: 10_000 });
}

/** Stops the NATS server started in `dir` (SIGTERM, then SIGKILL), if it runs; its JetStream data stays. */
export async function stopNats(dir: string): Promise<void> {
  const state = readJson<NatsState>(join(dir, 'state.json'));
  if (state && isAlive(state.pid)) await stopPid(state.pid);
}
