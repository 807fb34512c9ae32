import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { freePort, isAlive, readJson, spawnDaemon, stopPid, tailLog, waitFor, writeJson } from './process.js';
import type { LauncherOptions, ServiceHandle } from './types.js';

/** How to reach the S3 gateway of a started Ceph instance. */
export interface S3Info {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
}

/**
 * Where the OSD keeps objects: `memstore` in memory (fast; everything is lost when the OSD stops),
 * `bluestore` on a sparse file inside the instance directory (objects survive a restart).
 */
export type CephObjectStore = 'memstore' | 'bluestore';

/** A started Ceph instance: how to reach its S3 gateway, where it keeps objects, what it logs. */
export interface CephInfo extends S3Info {
  objectStore: CephObjectStore;
  /**
   * Only when asked for: RGW's ops log (one JSON line per S3 request) and its admin socket (its
   * request counter), read by RgwRequestCounter in rgw-ops-log.ts.
   */
  opsLog?: { file: string; adminSocket: string };
}

export type CephOptions = LauncherOptions & {
  accessKey?: string;
  secretKey?: string;
  /**
   * BlueStore on a sparse file, so that objects survive a stop and start (benchmarks, restart
   * tests). Default false: memstore, which starts faster and is what the test suites use.
   */
  durable?: boolean;
  /** Let RGW write its ops log to `<dir>/log/rgw-ops.log`: S3 requests counted at the S3 side. */
  opsLog?: boolean;
};

const DEFAULT_ACCESS_KEY = 'MLRLOCALACCESSKEY';
const DEFAULT_SECRET_KEY = 'mlr-local-secret-key';
const REGION = 'us-east-1';
const RGW_NAME = 'client.rgw.local';
const MON_ID = 'a';
/** A generous bound for a start that normally takes 2–3 s, so a slow CI machine still passes. */
const STEP_TIMEOUT_MS = 60_000;
const TOOL_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
/** The OSD binds four messengers (public, cluster, two heartbeats); keep spare ports in its range. */
const OSD_PORT_COUNT = 8;
/** Version 2 records the object store and the ops log: a version 1 instance was always memstore. */
const STATE_VERSION = 2;
/** Room for the BlueStore block file; sparse, so only what is written takes disk space. */
const BLUESTORE_BLOCK_BYTES = 4 * 1024 * 1024 * 1024;
const LOCK_FILE = 'start.lock';

type DaemonName = 'mon' | 'osd' | 'rgw';

interface CephState {
  version: number;
  status: 'starting' | 'ready' | 'stopped';
  objectStore: CephObjectStore;
  opsLog: boolean;
  /** True once the cluster was created completely: only then can a durable one be started again. */
  created: boolean;
  fsid: string;
  osd?: { id: string; uuid: string };
  conf: string;
  monPort: number;
  rgwPort: number;
  osdPorts: { min: number; max: number };
  pids: Partial<Record<DaemonName, number>>;
  users: Array<{ accessKey: string; secretKey: string }>;
}

interface Layout {
  dir: string;
  conf: string;
  stateFile: string;
  logDir: string;
  monData: string;
  osdData: string;
  rgwData: string;
  runDir: string;
  monKeyring: string;
  monmap: string;
  opsLogFile: string;
  rgwAdminSocket: string;
}

function layoutOf(dir: string): Layout {
  return {
    dir,
    conf: join(dir, 'ceph.conf'),
    stateFile: join(dir, 'state.json'),
    logDir: join(dir, 'log'),
    monData: join(dir, 'mon'),
    osdData: join(dir, 'osd'),
    rgwData: join(dir, 'rgw'),
    runDir: join(dir, 'run'),
    monKeyring: join(dir, 'mon.keyring'),
    monmap: join(dir, 'monmap'),
    opsLogFile: join(dir, 'log', 'rgw-ops.log'),
    // A unix socket path has at most 107 bytes: keep the name short.
    rgwAdminSocket: join(dir, 'run', 'rgw.asok'),
  };
}

function logFileOf(layout: Layout, daemon: DaemonName): string {
  return join(layout.logDir, `${daemon}.log`);
}

/**
 * Starts a single-node Ceph cluster (one ceph-mon, one ceph-osd, one radosgw) that serves S3 on a
 * free port of 127.0.0.1, and creates an S3 user. The OSD uses memstore unless `durable` asks for
 * BlueStore. Nothing outside `opts.dir` is read or written: every tool gets `--conf <dir>/ceph.conf`.
 * A second call with the same `dir` while the instance answers returns it with `reused: true`; a
 * stopped durable instance is started again with its objects. An instance that would not be what
 * the caller asked for (another object store or ops log setting while it runs, or durable data that
 * a memstore start would wipe) is refused, never silently swapped.
 */
export async function startCeph(opts: CephOptions): Promise<ServiceHandle<CephInfo>> {
  const layout = layoutOf(resolve(opts.dir));
  const accessKey = opts.accessKey ?? DEFAULT_ACCESS_KEY;
  const secretKey = opts.secretKey ?? DEFAULT_SECRET_KEY;
  const wanted: Settings = { objectStore: opts.durable ? 'bluestore' : 'memstore', opsLog: opts.opsLog ?? false };
  mkdirSync(layout.dir, { recursive: true });

  const releaseLock = await acquireStartLock(layout.dir);
  try {
    const existing = readJson<CephState>(layout.stateFile);
    if (existing && (await isRunning(existing, layout))) {
      refuseOtherSettings(layout, existing, wanted);
      const state = await ensureUser(layout, existing, accessKey, secretKey);
      return handleFor(layout, state, accessKey, secretKey, true);
    }
    if (existing?.version === STATE_VERSION && existing.objectStore === 'bluestore' && existing.created) {
      if (wanted.objectStore !== 'bluestore') {
        throw new Error(
          `Ceph in ${layout.dir} holds durable (BlueStore) objects; a memstore start would wipe them: ` +
            'ask for durable, or remove the directory first',
        );
      }
      await stopDaemons(existing, 1_000);
      const state = await restartDurable(layout, existing, wanted, accessKey, secretKey);
      return handleFor(layout, state, accessKey, secretKey, false);
    }
    // A memstore instance that stopped has nothing left to keep, and a broken one is wiped anyway:
    // no need to give its daemons a long grace period.
    if (existing) await stopDaemons(existing, 1_000);
    clearDir(layout.dir);
    const state = await startFresh(layout, wanted, accessKey, secretKey);
    return handleFor(layout, state, accessKey, secretKey, false);
  } finally {
    releaseLock();
  }
}

/**
 * What an S3 gateway outage does to the platform: stops the radosgw of the Ceph instance in `dir`
 * (monitor and OSD keep running, so no object is lost even on memstore), keeps it down for
 * `downMs`, and starts it again on the same port. Resolves once it answers again.
 */
/**
 * Another S3 user of the running Ceph instance in `dir` (created unless it exists), e.g. the
 * services' own user beside the bucket owner; returns its RGW user id, which bucket policies name.
 */
export async function ensureCephUser(dir: string, accessKey: string, secretKey: string): Promise<{ uid: string }> {
  const layout = layoutOf(resolve(dir));
  const releaseLock = await acquireStartLock(layout.dir);
  try {
    const state = readJson<CephState>(layout.stateFile);
    if (!state || state.status !== 'ready') throw new Error(`no running Ceph instance in ${dir}`);
    await ensureUser(layout, state, accessKey, secretKey);
  } finally {
    releaseLock();
  }
  return { uid: cephUserId(accessKey) };
}

/** The RGW user id this launcher gives the user of `accessKey`. */
export function cephUserId(accessKey: string): string {
  return `mlr-${createHash('sha256').update(accessKey).digest('hex').slice(0, 16)}`;
}

export async function restartRadosgw(dir: string, downMs: number): Promise<void> {
  const layout = layoutOf(resolve(dir));
  const state = readJson<CephState>(layout.stateFile);
  if (!state || state.status !== 'ready') throw new Error(`no running Ceph instance in ${dir}`);
  if (state.pids.rgw !== undefined) await stopPid(state.pids.rgw);
  await sleep(downMs);
  await startRgw(layout, state);
}

/**
 * Whether a Ceph instance of `dir` is running now. A memstore instance that stopped has lost every
 * object, whatever other state (PostgreSQL) says they exist; see `cephObjectStore`.
 */
export async function cephRunning(dir: string): Promise<boolean> {
  const layout = layoutOf(resolve(dir));
  const existing = readJson<CephState>(layout.stateFile);
  return existing !== undefined && (await isRunning(existing, layout));
}

/** The object store of the Ceph instance in `dir` (running or not), or undefined when there is none. */
export function cephObjectStore(dir: string): CephObjectStore | undefined {
  const existing = readJson<CephState>(layoutOf(resolve(dir)).stateFile);
  if (existing === undefined) return undefined;
  return existing.version === STATE_VERSION ? existing.objectStore : 'memstore';
}

/** The object store the running OSD reports to the monitor (`ceph osd metadata`), not what was asked for. */
export async function cephReportedObjectStore(dir: string): Promise<string> {
  const layout = layoutOf(resolve(dir));
  const state = readJson<CephState>(layout.stateFile);
  if (state === undefined || !(await isRunning(state, layout))) throw new Error(`no Ceph is running in ${layout.dir}`);
  const metadata = JSON.parse(await ceph(layout, ['osd', 'metadata', '--format', 'json'])) as Array<{
    osd_objectstore?: string;
  }>;
  const kinds = [...new Set(metadata.map((osd) => osd.osd_objectstore ?? 'unknown'))];
  return kinds.join(', ') || 'unknown';
}

/** What a caller asks of an instance beyond reaching it. */
interface Settings {
  objectStore: CephObjectStore;
  opsLog: boolean;
}

function refuseOtherSettings(layout: Layout, state: CephState, wanted: Settings): void {
  const describe = (settings: Settings) => `${settings.objectStore}, ops log ${settings.opsLog ? 'on' : 'off'}`;
  if (state.objectStore !== wanted.objectStore || state.opsLog !== wanted.opsLog) {
    throw new Error(
      `Ceph in ${layout.dir} is running with ${describe(state)}, not ${describe(wanted)} as asked: ` +
        'stop it first, or use another directory',
    );
  }
}

function handleFor(
  layout: Layout,
  state: CephState,
  accessKey: string,
  secretKey: string,
  reused: boolean,
): ServiceHandle<CephInfo> {
  return {
    info: {
      endpoint: `http://127.0.0.1:${state.rgwPort}`,
      region: REGION,
      accessKey,
      secretKey,
      objectStore: state.objectStore,
      ...(state.opsLog ? { opsLog: { file: layout.opsLogFile, adminSocket: layout.rgwAdminSocket } } : {}),
    },
    reused,
    stop: async () => {
      const current = readJson<CephState>(layout.stateFile) ?? state;
      await stopDaemons(current);
      writeJson(layout.stateFile, { ...current, status: 'stopped' } satisfies CephState);
    },
  };
}

async function startFresh(
  layout: Layout,
  settings: Settings,
  accessKey: string,
  secretKey: string,
): Promise<CephState> {
  for (const sub of [layout.logDir, layout.monData, layout.osdData, layout.rgwData, layout.runDir]) {
    mkdirSync(sub, { recursive: true });
  }
  const fsid = randomUUID();
  const monPort = await freePort();
  const rgwPort = await freePort();
  const osdPorts = await freePortRange(OSD_PORT_COUNT);
  const state: CephState = {
    version: STATE_VERSION,
    status: 'starting',
    ...settings,
    created: false,
    fsid,
    conf: layout.conf,
    monPort,
    rgwPort,
    osdPorts,
    pids: {},
    users: [],
  };
  writeFileSync(layout.conf, cephConf(layout, state));
  writeJson(layout.stateFile, state);

  try {
    // Monitor: keyring, monmap, mkfs, then the daemon.
    await runTool(
      'ceph-authtool',
      ['--create-keyring', layout.monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'],
      {
        what: 'creating the monitor keyring',
      },
    );
    await runTool(
      'monmaptool',
      ['--create', '--fsid', fsid, '--addv', MON_ID, `[v2:127.0.0.1:${monPort}]`, layout.monmap],
      {
        what: 'creating the monitor map',
      },
    );
    await runTool(
      'ceph-mon',
      ['--conf', layout.conf, '--mkfs', '-i', MON_ID, '--monmap', layout.monmap, '--keyring', layout.monKeyring],
      { what: 'initialising the monitor store (ceph-mon --mkfs)' },
    );
    await startMon(layout, state);

    // OSD: register it with the monitor, mkfs its object store (for BlueStore this creates the
    // sparse block file), then the daemon.
    const osdUuid = randomUUID();
    const osdId = (await ceph(layout, ['osd', 'new', osdUuid])).trim();
    if (!/^\d+$/.test(osdId)) throw new Error(`'ceph osd new' returned an unexpected OSD id: ${JSON.stringify(osdId)}`);
    state.osd = { id: osdId, uuid: osdUuid };
    mkdirSync(join(layout.osdData, osdId), { recursive: true });
    await runTool('ceph-osd', ['--conf', layout.conf, '--mkfs', '-i', osdId, '--osd-uuid', osdUuid], {
      what: `initialising OSD ${osdId} on ${settings.objectStore} (ceph-osd --mkfs)`,
      // BlueStore's mkfs creates and formats the block file: slower than memstore's.
      timeoutMs: 3 * TOOL_TIMEOUT_MS,
    });
    await startOsd(layout, state, osdId);
    await startRgw(layout, state);

    const ready = await ensureUser(layout, { ...state, status: 'ready', created: true }, accessKey, secretKey);
    writeJson(layout.stateFile, ready);
    return ready;
  } catch (error) {
    await stopDaemons(state);
    writeJson(layout.stateFile, { ...state, status: 'stopped' } satisfies CephState);
    throw error;
  }
}

/**
 * Starts a stopped durable instance again from its own data: the same fsid, ports (the monitor's
 * address is in its monmap) and OSD; the S3 users live in RADOS and are there again.
 */
async function restartDurable(
  layout: Layout,
  previous: CephState,
  settings: Settings,
  accessKey: string,
  secretKey: string,
): Promise<CephState> {
  const osd = previous.osd;
  if (osd === undefined) throw new Error(`Ceph in ${layout.dir} has no OSD on record: remove the directory`);
  const state: CephState = { ...previous, ...settings, status: 'starting', pids: {} };
  // The conf is written again so that the ops log setting may change between starts.
  writeFileSync(layout.conf, cephConf(layout, state));
  writeJson(layout.stateFile, state);
  try {
    await startMon(layout, state);
    await startOsd(layout, state, osd.id);
    await startRgw(layout, state);
    const ready = await ensureUser(layout, { ...state, status: 'ready' }, accessKey, secretKey);
    writeJson(layout.stateFile, ready);
    return ready;
  } catch (error) {
    await stopDaemons(state);
    writeJson(layout.stateFile, { ...state, status: 'stopped' } satisfies CephState);
    throw new Error(
      `${(error as Error).message}\n(a durable instance restarts on its old ports ${state.monPort}, ${state.rgwPort} and ` +
        `${state.osdPorts.min}-${state.osdPorts.max}: another process may hold one of them)`,
    );
  }
}

async function startMon(layout: Layout, state: CephState): Promise<void> {
  state.pids.mon = startDaemon(layout, 'mon', 'ceph-mon', ['-f', '--conf', layout.conf, '-i', MON_ID]);
  writeJson(layout.stateFile, state);
  await waitForDaemon(layout, state, 'mon', 'the Ceph monitor to form a quorum', async () => {
    const status = JSON.parse(await ceph(layout, ['quorum_status', '--format', 'json'], 5_000)) as {
      quorum_names?: string[];
    };
    return status.quorum_names?.includes(MON_ID) ?? false;
  });
}

async function startOsd(layout: Layout, state: CephState, osdId: string): Promise<void> {
  state.pids.osd = startDaemon(layout, 'osd', 'ceph-osd', ['-f', '--conf', layout.conf, '-i', osdId]);
  writeJson(layout.stateFile, state);
  await waitForDaemon(layout, state, 'osd', `OSD ${osdId} to be up`, async () => {
    const dump = JSON.parse(await ceph(layout, ['osd', 'dump', '--format', 'json'], 5_000)) as {
      osds?: Array<{ osd: number; up: number }>;
    };
    return dump.osds?.some((entry) => String(entry.osd) === osdId && entry.up === 1) ?? false;
  });
}

/** The gateway creates its pools itself; it answers anonymous GET / with 200 once ready. */
async function startRgw(layout: Layout, state: CephState): Promise<void> {
  state.pids.rgw = startDaemon(layout, 'rgw', 'radosgw', ['-f', '--conf', layout.conf, '-n', RGW_NAME]);
  writeJson(layout.stateFile, state);
  await waitForDaemon(layout, state, 'rgw', `radosgw to answer HTTP on 127.0.0.1:${state.rgwPort}`, () =>
    httpOk(state.rgwPort),
  );
}

function cephConf(layout: Layout, state: CephState): string {
  const { fsid, monPort, rgwPort, osdPorts } = state;
  return `# Throw-away single-node Ceph for tests and local development (written by startCeph).
[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = ${MON_ID}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# Without auth, radosgw otherwise insists on 'secure' mode with the monitor and hangs at start.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = ${osdPorts.min}
ms bind port max = ${osdPorts.max}
# Keep everything inside this directory; never touch /etc/ceph, /var/lib/ceph, /var/log/ceph.
run dir = ${layout.runDir}
crash dir = ${join(layout.dir, 'crash')}
keyring = ${layout.monKeyring}
admin socket =
log to stderr = true
err to stderr = true
log to file = false
log file =
mon cluster log to file = false
mon data avail crit = 0
mon data avail warn = 0
# One OSD: pools of size one, placement on a single host.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# The default of 1 s makes start-up take ~13 s and the first PUT ~2 s.
paxos propose interval = 0.05
debug rocksdb = 0/0
debug mon = 0/0
debug paxos = 0/0
debug ms = 0/0
debug osd = 0/0
debug memstore = 0/0
debug bluestore = 0/0
debug bluefs = 0/0
debug bdev = 0/0
debug rgw = 0/0
debug auth = 0/0
debug monc = 0/0
debug objecter = 0/0

[mon]
mon data = ${join(layout.monData, '$id')}

[osd]
osd data = ${join(layout.osdData, '$id')}
${state.objectStore === 'bluestore' ? BLUESTORE_CONF : MEMSTORE_CONF}
[${RGW_NAME}]
# Without tcp_nodelay many requests take 40–50 ms longer.
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${layout.rgwData}
${state.opsLog ? opsLogConf(layout) : ''}
[client.admin]
# The CLI tools (ceph, radosgw-admin) must fail instead of waiting forever for a monitor.
client mount timeout = 10
rados mon op timeout = 20
rados osd op timeout = 20
`;
}

const MEMSTORE_CONF = `# A full memstore makes writes hang instead of failing: give it room (4 GiB, allocated on use).
osd objectstore = memstore
memstore device bytes = 4294967296
`;

// The block file is created by mkfs inside the OSD's data directory; sparse, so it takes only the
// space written. fsck at mkfs only costs start-up time; discard means nothing on a file.
const BLUESTORE_CONF = `# Durable: BlueStore on a sparse file, objects survive a restart.
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${BLUESTORE_BLOCK_BYTES}
bluestore fsck on mkfs = false
bdev enable discard = false
`;

/**
 * One JSON line per S3 request in a file we read (rgw-ops-log.ts); not into RADOS as well, where
 * it would add OSD writes to what is being measured. Without `nonexistent bucket`, requests naming
 * a bucket that does not exist (yet) are not logged.
 */
function opsLogConf(layout: Layout): string {
  return `# S3 requests counted at the S3 side (one JSON line per request).
rgw enable ops log = true
rgw ops log rados = false
rgw log nonexistent bucket = true
rgw ops log file path = ${layout.opsLogFile}
# RGW's request counter, which also counts what the ops log leaves out (ListBuckets, refused logins).
admin socket = ${layout.rgwAdminSocket}
`;
}

/** Creates the S3 user for `accessKey` unless it exists; refuses a different secret for it. */
async function ensureUser(layout: Layout, state: CephState, accessKey: string, secretKey: string): Promise<CephState> {
  const known = state.users.find((user) => user.accessKey === accessKey);
  if (known) {
    if (known.secretKey !== secretKey) {
      throw new Error(`Ceph in ${layout.dir} already has S3 access key '${accessKey}' with a different secret key`);
    }
    return state;
  }
  const uid = cephUserId(accessKey);
  await runTool(
    'radosgw-admin',
    [
      '--conf',
      layout.conf,
      'user',
      'create',
      '--uid',
      uid,
      '--display-name',
      `MLR ${accessKey}`,
      '--access-key',
      accessKey,
      '--secret-key',
      secretKey,
    ],
    { what: `creating the S3 user for access key '${accessKey}' (radosgw-admin user create)` },
  );
  const next: CephState = { ...state, users: [...state.users, { accessKey, secretKey }] };
  writeJson(layout.stateFile, next);
  return next;
}

async function isRunning(state: CephState, layout: Layout): Promise<boolean> {
  if (state.version !== STATE_VERSION || state.status !== 'ready') return false;
  const daemons: DaemonName[] = ['mon', 'osd', 'rgw'];
  for (const daemon of daemons) {
    const pid = state.pids[daemon];
    if (pid === undefined || !isOurProcess(pid, layout.conf)) return false;
  }
  return httpOk(state.rgwPort);
}

/** Guards against a recycled PID: the process must have been started with our ceph.conf. */
function isOurProcess(pid: number, conf: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(conf);
  } catch {
    return false;
  }
}

/** Stops the gateway first, the monitor last, each by PID (SIGTERM, then SIGKILL). */
async function stopDaemons(state: CephState, graceMs = STOP_GRACE_MS): Promise<void> {
  const order: DaemonName[] = ['rgw', 'osd', 'mon'];
  for (const daemon of order) {
    const pid = state.pids[daemon];
    if (pid !== undefined && isOurProcess(pid, state.conf)) await stopPid(pid, graceMs);
  }
}

function startDaemon(layout: Layout, daemon: DaemonName, command: string, args: string[]): number {
  return spawnDaemon({
    name: `ceph ${daemon}`,
    command,
    args,
    logFile: logFileOf(layout, daemon),
    cwd: layout.dir,
    env: toolEnv(),
  });
}

/** Waits for `check`, failing early if the daemon exits, and quoting its log on failure. */
async function waitForDaemon(
  layout: Layout,
  state: CephState,
  daemon: DaemonName,
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  const pid = state.pids[daemon];
  const logFile = logFileOf(layout, daemon);
  let exited = false;
  try {
    await waitFor(
      async () => {
        if (pid === undefined || !isAlive(pid)) {
          exited = true;
          return true;
        }
        return check();
      },
      { what, timeoutMs: STEP_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    throw new Error(
      `Ceph start failed: ${(error as Error).message}\n--- last lines of ${logFile} ---\n${tailLog(logFile, 30)}`,
    );
  }
  if (exited) {
    throw new Error(
      `Ceph start failed: ${daemon} (pid ${pid}) exited while waiting for ${what}\n--- last lines of ${logFile} ---\n${tailLog(logFile, 30)}`,
    );
  }
}

async function httpOk(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

function ceph(layout: Layout, args: string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<string> {
  return runTool('ceph', ['--conf', layout.conf, '--connect-timeout', String(Math.ceil(timeoutMs / 1000)), ...args], {
    what: `ceph ${args.join(' ')}`,
    timeoutMs,
  });
}

/** The environment for Ceph tools, without variables that would point them at another cluster. */
function toolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CEPH_ARGS;
  delete env.CEPH_CONF;
  return env;
}

/** Runs a Ceph tool to completion with a hard time-out; errors quote its output. */
function runTool(command: string, args: string[], options: { what: string; timeoutMs?: number }): Promise<string> {
  const timeoutMs = options.timeoutMs ?? TOOL_TIMEOUT_MS;
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: toolEnv(), encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          resolvePromise(stdout);
          return;
        }
        const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const reason =
          failure.code === 'ENOENT'
            ? `${command} is not installed (apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd)`
            : failure.killed
              ? `timed out after ${timeoutMs} ms`
              : `exit code ${String(failure.code)}`;
        const lines = `${stdout}\n${stderr}`.split('\n').filter((line) => line.trim() !== '');
        // Ceph prints the cause first and a long dump of recent events after it: quote both ends.
        const causes = lines.filter((line) => /FAILED|error|abort|denied|No such|timed out/i.test(line)).slice(0, 8);
        const output = [...causes, '...', ...lines.slice(-12)].join('\n');
        reject(new Error(`${options.what} failed: ${reason}\n$ ${command} ${args.join(' ')}\n${output}`));
      },
    );
  });
}

/** A run of `count` consecutive free ports below the Linux ephemeral range, for the OSD messengers. */
async function freePortRange(count: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const min = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    let allFree = true;
    for (let port = min; port < min + count && allFree; port++) {
      allFree = await portIsFree(port);
    }
    if (allFree) return { min, max: min + count - 1 };
  }
  throw new Error(`could not find ${count} consecutive free ports on 127.0.0.1 for the Ceph OSD`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

/** Removes the previous instance's files but keeps the start lock held by this call. */
function clearDir(dir: string): void {
  for (const entry of readdirSync(dir)) {
    if (entry !== LOCK_FILE) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Serialises concurrent starts in the same directory (e.g. parallel test files), so that the
 * second caller reuses the first one's instance instead of wiping it.
 */
async function acquireStartLock(dir: string): Promise<() => void> {
  const lockFile = join(dir, LOCK_FILE);
  const deadline = Date.now() + 3 * STEP_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(existsSync(lockFile) ? readFileSync(lockFile, 'utf8') : '', 10);
    if (Number.isInteger(holder) && holder !== process.pid && !isAlive(holder)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for another Ceph start in ${dir} (lock ${lockFile} held by pid ${holder})`);
    }
    await sleep(100);
  }
}
