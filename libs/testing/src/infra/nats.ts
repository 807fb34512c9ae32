import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
}

interface NatsState {
  pid: number;
  port: number;
  monitorPort: number;
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
}): string {
  const lines = [
    `listen: "127.0.0.1:${options.port}"`,
    `http: "127.0.0.1:${options.monitorPort}"`,
    `max_payload: 1048576`,
    `jetstream { store_dir: ${quote(options.storeDir)}, max_memory_store: 268435456, max_file_store: 8589934592 }`,
  ];
  if (options.accounts) {
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
 * Starts nats-server with JetStream. State (config, JetStream store, log, state.json) lives in `dir`.
 * After a stop, starting again with the same dir reuses the same ports and keeps JetStream data,
 * so clients reconnect by themselves (used by restart tests).
 */
export async function startNats(options: NatsOptions): Promise<ServiceHandle<NatsInfo>> {
  const dir = options.dir;
  mkdirSync(dir, { recursive: true });
  const stateFile = join(dir, 'state.json');
  const configFile = join(dir, 'nats.conf');
  const logFile = join(dir, 'nats.log');
  const previous = readJson<NatsState>(stateFile);

  const handleFor = (state: NatsState, reused: boolean): ServiceHandle<NatsInfo> => ({
    info: {
      url: `nats://127.0.0.1:${state.port}`,
      port: state.port,
      monitorPort: state.monitorPort,
      ...(state.systemUser ? { systemUser: state.systemUser } : {}),
    },
    reused,
    stop: () => stopPid(state.pid),
  });

  if (previous && isAlive(previous.pid) && (await monitorHealthy(previous.monitorPort))) {
    if (options.accounts) {
      writeFileSync(
        configFile,
        renderNatsConfig({ ...previous, storeDir: join(dir, 'jetstream'), accounts: options.accounts }),
      );
      process.kill(previous.pid, 'SIGHUP');
    }
    return handleFor(previous, true);
  }

  const port = previous?.port ?? (await freePort());
  const monitorPort = previous?.monitorPort ?? (await freePort());
  writeFileSync(
    configFile,
    renderNatsConfig({ port, monitorPort, storeDir: join(dir, 'jetstream'), accounts: options.accounts }),
  );
  const pid = spawnDaemon({ name: 'nats', command: 'nats-server', args: ['-c', configFile], logFile });
  const state: NatsState = { pid, port, monitorPort, ...(options.accounts ? { systemUser: SYSTEM_USER } : {}) };
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
  const logFile = join(dir, 'nats.log');
  const reloads = () =>
    existsSync(logFile) ? readFileSync(logFile, 'utf8').split('Reloaded server configuration').length - 1 : 0;
  const before = reloads();
  writeFileSync(join(dir, 'nats.conf'), renderNatsConfig({ ...state, storeDir: join(dir, 'jetstream'), accounts }));
  process.kill(state.pid, 'SIGHUP');
  await waitFor(() => reloads() > before, { what: 'nats-server to reload its configuration', timeoutMs: 10_000 });
}
