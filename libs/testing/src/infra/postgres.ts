import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, isAlive, readJson, spawnDaemon, stopPid, tailLog, writeJson } from './process.js';
import type { LauncherOptions, ServiceHandle } from './types.js';

const execFileAsync = promisify(execFile);

export interface PostgresInfo {
  host: string;
  port: number;
  /** Superuser of the cluster (trust authentication, no password). */
  user: string;
  /** URL of the `postgres` maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** URL of `database` on this cluster. */
  url(database: string): string;
  /** Directory of the unix socket (`psql -h <socketDir>`). */
  socketDir: string;
  dataDir: string;
  logFile: string;
  /** PID of the postmaster. */
  pid: number;
}

export interface PostgresLauncherOptions extends LauncherOptions {
  /**
   * Keep crash safety (fsync, synchronous commit, full-page writes). Default false: a test cluster
   * trades durability for speed, since its data is thrown away anyway.
   */
  durable?: boolean;
  /** Directory holding `initdb` and `postgres`; found under /usr/lib/postgresql or on PATH if omitted. */
  binDir?: string;
  /** How long to wait for the server to accept queries. Default 30 s. */
  startTimeoutMs?: number;
}

interface PostgresState {
  pid: number;
  port: number;
  host: string;
  user: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
/** OS account that owns the cluster when we run as root (PostgreSQL refuses to run as root). */
const OS_USER = 'postgres';

/**
 * Starts (or reuses) a private PostgreSQL cluster under `opts.dir`: `data/` (cluster), `run/` (unix
 * socket), `postgres.log`, `initdb.log`, `state.json`. Trust authentication, locale C, UTF8,
 * listening on 127.0.0.1 at a free port.
 */
export async function startPostgres(opts: PostgresLauncherOptions): Promise<ServiceHandle<PostgresInfo>> {
  const dir = resolve(opts.dir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'run');
  const logFile = join(dir, 'postgres.log');
  const stateFile = join(dir, 'state.json');
  mkdirSync(dir, { recursive: true });

  const previous = readJson<PostgresState>(stateFile);
  if (previous !== undefined && isAlive(previous.pid) && (await answers(infoFrom(previous)))) {
    await refuseOtherDurability(infoFrom(previous), opts.durable ?? false);
    return handle(infoFrom(previous), true, stateFile);
  }

  const binDir = opts.binDir ?? findBinDir();
  const runAs = osUserSwitch();
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  // Leftovers of an initdb that did not finish would make the next one refuse to run.
  if (!initialised) rmSync(dataDir, { recursive: true, force: true });
  if (runAs !== undefined) makeAccessible(dir, [dataDir, socketDir]);
  else mkdirSync(socketDir, { recursive: true });

  if (!initialised) {
    await initCluster({ binDir, dataDir, dir, runAs, durable: opts.durable ?? false });
  }

  // A free port can be taken by someone else between the probe and the bind: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Started again after a stop: on its port, so that its clients find it again.
    const port = attempt === 0 && previous !== undefined ? previous.port : await freePort();
    try {
      const state = await startServer({
        binDir,
        dataDir,
        socketDir,
        logFile,
        port,
        runAs,
        durable: opts.durable ?? false,
        timeoutMs: opts.startTimeoutMs ?? 30_000,
      });
      writeJson(stateFile, state);
      return handle(infoFrom(state), false, stateFile);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) break;
    }
  }
  throw lastError;
}

/** The crash-safety settings a server runs with, as it reports them. */
export interface PostgresDurability {
  fsync: string;
  synchronous_commit: string;
  full_page_writes: string;
}

export async function postgresDurability(info: Pick<PostgresInfo, 'adminUrl'>): Promise<PostgresDurability> {
  return withAdmin(info, async (client) => {
    const { rows } = await client.query<{ name: keyof PostgresDurability; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')`,
    );
    const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
    return {
      fsync: settings['fsync'] ?? 'unknown',
      synchronous_commit: settings['synchronous_commit'] ?? 'unknown',
      full_page_writes: settings['full_page_writes'] ?? 'unknown',
    };
  });
}

/** Whether every crash-safety setting is on. */
export function isDurable(settings: PostgresDurability): boolean {
  return Object.values(settings).every((value) => value === 'on');
}

/**
 * A running server keeps the settings it was started with: one that is not as durable as asked
 * (or durable when a fast one was asked) is refused rather than silently used.
 */
async function refuseOtherDurability(info: PostgresInfo, durable: boolean): Promise<void> {
  const settings = await postgresDurability(info);
  if (isDurable(settings) !== durable) {
    throw new Error(
      `PostgreSQL in ${dirname(info.dataDir)} is running with ${JSON.stringify(settings)}, but a ` +
        `${durable ? 'durable' : 'non-durable'} server was asked for: stop it first, or use another directory`,
    );
  }
}

/** Creates database `name` unless it exists already. */
export async function createDatabase(info: PostgresInfo, name: string): Promise<void> {
  await withAdmin(info, async (client) => {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount === 0) await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
}

/** Drops database `name` if it exists, disconnecting its sessions. */
export async function dropDatabase(info: PostgresInfo, name: string): Promise<void> {
  await withAdmin(info, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

function infoFrom(state: PostgresState): PostgresInfo {
  const base = `postgresql://${state.user}@${state.host}:${state.port}`;
  return {
    host: state.host,
    port: state.port,
    user: state.user,
    adminUrl: `${base}/postgres`,
    url: (database: string) => `${base}/${encodeURIComponent(database)}`,
    socketDir: state.socketDir,
    dataDir: state.dataDir,
    logFile: state.logFile,
    pid: state.pid,
  };
}

function handle(info: PostgresInfo, reused: boolean, stateFile: string): ServiceHandle<PostgresInfo> {
  return {
    info,
    reused,
    // The server running now: restartPostgres may have replaced the one this handle started.
    stop: () => stopServer(readJson<PostgresState>(stateFile)?.pid ?? info.pid),
  };
}

async function stopServer(pid: number): Promise<void> {
  // SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to disconnect;
  // SIGINT ("fast") rolls back open sessions and stops at once. Fall back to SIGTERM/SIGKILL.
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  }
  await stopPid(pid);
}

/** Stops the PostgreSQL cluster started in `dir` ("fast": open sessions are rolled back), if it runs. */
export async function stopPostgres(dir: string): Promise<void> {
  const state = readJson<PostgresState>(join(resolve(dir), 'state.json'));
  if (state) await stopServer(state.pid);
}

interface InitSpec {
  binDir: string;
  dataDir: string;
  dir: string;
  runAs: string[] | undefined;
  durable: boolean;
}

async function initCluster(spec: InitSpec): Promise<void> {
  const initdb = join(spec.binDir, 'initdb');
  const args = [
    '-D',
    spec.dataDir,
    '-U',
    SUPERUSER,
    '--auth=trust',
    '--locale=C',
    '--encoding=UTF8',
    '--no-instructions',
    ...(spec.durable ? [] : ['--no-sync']),
  ];
  const [command, commandArgs] = withUser(spec.runAs, initdb, args);
  const logFile = join(spec.dir, 'initdb.log');
  try {
    const { stdout, stderr } = await execFileAsync(command, commandArgs, {
      cwd: spec.dir,
      maxBuffer: 16 * 1024 * 1024,
    });
    writeFileSync(logFile, `${stdout}${stderr}`);
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    writeFileSync(logFile, `${e.stdout ?? ''}${e.stderr ?? ''}`);
    throw new Error(`initdb failed for ${spec.dataDir}: ${e.message}; log tail:\n${tailLog(logFile)}`);
  }
}

class PortInUseError extends Error {}

interface ServerSpec {
  binDir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
  port: number;
  runAs: string[] | undefined;
  durable: boolean;
  timeoutMs: number;
}

async function startServer(spec: ServerSpec): Promise<PostgresState> {
  const settings: Record<string, string> = {
    listen_addresses: HOST,
    port: String(spec.port),
    unix_socket_directories: spec.socketDir,
    max_connections: '200',
    ...(spec.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
  };
  const args = ['-D', spec.dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const [command, commandArgs] = withUser(spec.runAs, join(spec.binDir, 'postgres'), args);
  const logStart = existsSync(spec.logFile) ? statSync(spec.logFile).size : 0;
  const launcherPid = spawnDaemon({ name: 'postgres', command, args: commandArgs, logFile: spec.logFile });

  const state: PostgresState = {
    pid: launcherPid,
    port: spec.port,
    host: HOST,
    user: SUPERUSER,
    dataDir: spec.dataDir,
    socketDir: spec.socketDir,
    logFile: spec.logFile,
  };
  const deadline = Date.now() + spec.timeoutMs;
  let lastError = '';
  for (;;) {
    if (!isAlive(launcherPid)) {
      const log = newLogText(spec.logFile, logStart);
      if (/could not bind|Address already in use/i.test(log)) {
        throw new PortInUseError(`port ${spec.port} is taken`);
      }
      throw new Error(`postgres exited during start-up (data ${spec.dataDir}); log tail:\n${tailLog(spec.logFile)}`);
    }
    const pid = postmasterPid(spec.dataDir);
    if (pid !== undefined) state.pid = pid;
    try {
      if (pid !== undefined && (await query1(infoFrom(state).adminUrl))) return state;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) {
      await stopPid(state.pid);
      throw new Error(
        `postgres did not accept queries on ${HOST}:${spec.port} within ${spec.timeoutMs} ms` +
          `${lastError ? ` (last error: ${lastError})` : ''}; log tail:\n${tailLog(spec.logFile)}`,
      );
    }
    await sleep(100);
  }
}

function newLogText(logFile: string, from: number): string {
  if (!existsSync(logFile)) return '';
  return readFileSync(logFile).subarray(from).toString('utf8');
}

/** First line of `postmaster.pid` is the PID of the running postmaster. */
function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function answers(info: PostgresInfo): Promise<boolean> {
  try {
    return await query1(info.adminUrl);
  } catch {
    return false;
  }
}

async function query1(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withAdmin<T>(info: Pick<PostgresInfo, 'adminUrl'>, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: info.adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  for (const entry of (process.env['PATH'] ?? '').split(':')) {
    if (entry && existsSync(join(entry, 'initdb')) && existsSync(join(entry, 'postgres'))) return entry;
  }
  throw new Error('PostgreSQL binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or on PATH');
}

/**
 * PostgreSQL refuses to run as root. When we are root, run initdb and postgres as the `postgres`
 * account: `setpriv` execs in place (so the PID we get is the server's), `runuser` is the fallback.
 * Returns the command prefix, or undefined when no switch is needed.
 */
function osUserSwitch(): string[] | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = osUserIds(OS_USER);
  if (ids === undefined) {
    throw new Error(`running as root, but there is no '${OS_USER}' OS user to run PostgreSQL as`);
  }
  if (existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv')) {
    return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--init-groups', '--'];
  }
  return ['runuser', '-u', OS_USER, '--'];
}

function withUser(prefix: string[] | undefined, command: string, args: string[]): [string, string[]] {
  if (prefix === undefined) return [command, args];
  const [head, ...rest] = prefix;
  return [head as string, [...rest, command, ...args]];
}

function osUserIds(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (line === undefined) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Gives the PostgreSQL OS user its own directories under `dir`, and lets it reach them: every parent
 * needs the search (x) bit for others. We add that bit (search only: no listing) to parents we own,
 * such as a `mkdtemp` directory (mode 700); a parent someone else owns is reported instead.
 */
function makeAccessible(dir: string, ownDirs: string[]): void {
  const ids = osUserIds(OS_USER);
  if (ids === undefined) return;
  for (const own of ownDirs) {
    mkdirSync(own, { recursive: true, mode: 0o700 });
    chownSync(own, ids.uid, ids.gid);
  }
  const uid = process.getuid?.();
  for (let d = dir; ; d = dirname(d)) {
    const stat = statSync(d);
    if ((stat.mode & 0o001) === 0) {
      if (stat.uid !== uid) {
        throw new Error(
          `PostgreSQL runs as OS user '${OS_USER}' and cannot enter ${d} (mode ${(stat.mode & 0o777).toString(8)}, ` +
            `not ours to change); choose another directory or run 'chmod o+x ${d}'`,
        );
      }
      chmodSync(d, (stat.mode & 0o7777) | 0o001);
    }
    if (dirname(d) === d) break;
  }
}
