import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, isAlive, readJson, spawnDaemon, stopPid, tailLog, writeJson } from './process.js';
import type { LauncherOptions, ServiceHandle } from './types.js';

const execFileAsync = promisify(execFile);

export interface ImapCredentials {
  name: string;
  password: string;
}

export interface ImapInfo {
  host: string;
  port: number;
  secure: false;
  users: ImapCredentials[];
  /** Logs in as any user: SASL PLAIN with authzid `<user>`, or LOGIN `<user>*<master>`. */
  masterUser: ImapCredentials;
  /** Prefix of the public namespace, e.g. `Public/`; `Public/Announcements` exists from the start. */
  publicPrefix: string;
  /** Set when the instance also accepts SASL XOAUTH2 logins (see DovecotOAuth2). */
  oauth2?: DovecotOAuth2;
}

/**
 * XOAUTH2 logins the way Exchange Online takes them: user = the mailbox, token = an access token.
 * Dovecot asks `introspectionUrl` about each token (POST `token=<token>`, e.g. a
 * startTestIdentityProvider's) and needs an active answer. A user's own (delegated) token opens
 * only the mailbox named by the answer's `username` (the user's UPN; case does not matter), and only
 * when its space-separated `scope` lists `delegatedScope`. An app-only token (`username` = the app)
 * opens any mailbox when `scope` lists `requiredScope`.
 */
export interface DovecotOAuth2 {
  introspectionUrl: string;
  /** e.g. `IMAP.AccessAsApp`. */
  requiredScope: string;
  /** Default `IMAP.AccessAsUser.All`; recorded in ImapInfo with the default filled in. */
  delegatedScope?: string;
}

export interface DovecotOptions extends LauncherOptions {
  users: ImapCredentials[];
  masterUser?: ImapCredentials;
  oauth2?: DovecotOAuth2;
}

interface DovecotState {
  pid: number;
  info: ImapInfo;
}

const HOST = '127.0.0.1';
const PUBLIC_PREFIX = 'Public/';
const PUBLIC_FOLDERS = ['Announcements'];
const DEFAULT_MASTER: ImapCredentials = { name: 'mlr-backup', password: 'mlr-backup-secret' };
const DEFAULT_DELEGATED_SCOPE = 'IMAP.AccessAsUser.All';
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * Mail is stored under the Debian `mail` system account (uid/gid 8 on every Debian, from
 * base-passwd): it exists on a fresh system, is not Dovecot's own internal account, and using it
 * means we never have to add a system user. Falls back to `nobody` where `mail` is missing.
 */
const MAIL_ACCOUNTS = ['mail', 'nobody'];

interface Layout {
  dir: string;
  conf: string;
  passwdFile: string;
  masterFile: string;
  aclFile: string;
  oauth2File: string;
  oauth2UserFile: string;
  runDir: string;
  stateDir: string;
  mailDir: string;
  publicDir: string;
  logFile: string;
  stateFile: string;
}

function layout(dir: string): Layout {
  const root = resolve(dir);
  return {
    dir: root,
    conf: join(root, 'etc', 'dovecot.conf'),
    passwdFile: join(root, 'etc', 'users.passwd'),
    masterFile: join(root, 'etc', 'master-users.passwd'),
    aclFile: join(root, 'etc', 'global.acl'),
    oauth2File: join(root, 'etc', 'oauth2.conf.ext'),
    oauth2UserFile: join(root, 'etc', 'oauth2-user.conf.ext'),
    runDir: join(root, 'run'),
    stateDir: join(root, 'state'),
    mailDir: join(root, 'mail'),
    publicDir: join(root, 'public'),
    logFile: join(root, 'log', 'dovecot.log'),
    stateFile: join(root, 'state.json'),
  };
}

/**
 * Starts a self-contained Dovecot (IMAP only, plain text on 127.0.0.1, no TLS) with passwd-file
 * users, a master user ("Receive As", default `mlr-backup`), the acl plugin (the master user has
 * every right everywhere, other users may read the public folders) and a public namespace `Public/`;
 * with `oauth2` it also takes XOAUTH2 logins with app-only or the user's own tokens (see DovecotOAuth2).
 * Called again for the same live dir it returns that instance (`reused: true`) after adding any
 * missing users. Requires root: the master binds and drops to Dovecot's own `dovecot`/`dovenull`
 * accounts, and mail is written as the `mail` uid (see MAIL_ACCOUNTS).
 */
export async function startDovecot(opts: DovecotOptions): Promise<ServiceHandle<ImapInfo>> {
  const paths = layout(opts.dir);
  const masterUser = opts.masterUser ?? DEFAULT_MASTER;
  for (const user of [...opts.users, masterUser]) validateCredentials(user);
  const oauth2 = opts.oauth2 === undefined ? undefined : withDefaults(opts.oauth2);
  if (oauth2 !== undefined) validateOAuth2(oauth2);

  const previous = readJson<DovecotState>(paths.stateFile);
  const previousAlive = previous !== undefined && isOurDovecot(previous.pid, paths.conf);
  if (previous !== undefined && previousAlive && (await isAnswering(previous))) {
    if (
      previous.info.masterUser.name !== masterUser.name ||
      previous.info.masterUser.password !== masterUser.password
    ) {
      throw new Error(
        `dovecot in ${paths.dir} is running with master user ${previous.info.masterUser.name}; stop it before changing the master user`,
      );
    }
    if (!sameOAuth2(previous.info.oauth2, oauth2)) {
      throw new Error(
        `dovecot in ${paths.dir} is running with oauth2 ${JSON.stringify(previous.info.oauth2 ?? 'off')}; stop it before changing the oauth2 settings`,
      );
    }
    for (const user of opts.users) await addDovecotUser(paths.dir, user);
    const state = readJson<DovecotState>(paths.stateFile) ?? previous;
    return handle(paths, state, true);
  }
  // Alive but not answering: replace it.
  if (previous !== undefined && previousAlive) await stopProcessGroup(previous.pid);

  requireRoot();
  const account = mailAccount();
  // Sockets and master.pid of a killed instance: a reused PID in master.pid makes Dovecot refuse to
  // start, and a stale anvil socket makes auth log connection errors.
  rmSync(paths.runDir, { recursive: true, force: true });
  prepareDirectories(paths, account);
  const port = await freePort();
  writeUsers(paths, opts.users, masterUser);
  writeFileSync(paths.aclFile, globalAcl(masterUser.name));
  // Read by the auth process, which runs as the `dovecot` account.
  if (oauth2 !== undefined) {
    writeFileSync(paths.oauth2File, oauth2AppConfig(oauth2), { mode: 0o644 });
    writeFileSync(paths.oauth2UserFile, oauth2UserConfig(oauth2), { mode: 0o644 });
  } else {
    rmSync(paths.oauth2File, { force: true });
    rmSync(paths.oauth2UserFile, { force: true });
  }
  writeFileSync(paths.conf, dovecotConfig(paths, port, account, oauth2));

  const pid = spawnDaemon({
    name: 'dovecot',
    command: 'dovecot',
    args: ['-F', '-c', paths.conf],
    logFile: paths.logFile,
  });
  const info: ImapInfo = {
    host: HOST,
    port,
    secure: false,
    users: readUsers(paths.passwdFile),
    masterUser,
    publicPrefix: PUBLIC_PREFIX,
    ...(oauth2 !== undefined ? { oauth2 } : {}),
  };
  const state: DovecotState = { pid, info };
  try {
    await waitForGreeting(pid, port, paths.logFile);
  } catch (error) {
    await stopProcessGroup(pid);
    throw error;
  }
  writeJson(paths.stateFile, state);
  return handle(paths, state, false);
}

/**
 * Adds a user (or changes a user's password) in a running or stopped instance; resolves once a
 * login would see the change. Dovecot re-reads the passwd-file when its mtime or size changes, but
 * looks at the file at most once per wall-clock second, so this waits for the next second.
 */
export async function addDovecotUser(target: ServiceHandle<ImapInfo> | string, user: ImapCredentials): Promise<void> {
  validateCredentials(user);
  const dir = typeof target === 'string' ? resolve(target) : dirOfHandle.get(target);
  if (dir === undefined)
    throw new Error(
      `addDovecotUser: unknown handle (port ${(target as ServiceHandle<ImapInfo>).info.port}); pass the instance dir instead`,
    );
  // Serialise read-modify-write cycles on the same instance within this process.
  const previous = userUpdates.get(dir) ?? Promise.resolve();
  const update = previous.catch(() => undefined).then(() => writeUser(layout(dir), user));
  userUpdates.set(dir, update);
  try {
    await update;
  } finally {
    if (userUpdates.get(dir) === update) userUpdates.delete(dir);
  }
}

const userUpdates = new Map<string, Promise<void>>();

async function writeUser(paths: Layout, user: ImapCredentials): Promise<void> {
  const current = readUsers(paths.passwdFile);
  if (current.some((u) => u.name === user.name && u.password === user.password)) return;
  const users = dedupeUsers([...current.filter((u) => u.name !== user.name), user]);
  writePasswdFile(paths.passwdFile, users);

  const state = readJson<DovecotState>(paths.stateFile);
  if (state !== undefined) {
    state.info.users = users;
    writeJson(paths.stateFile, state);
  }
  for (const [h, dir] of dirOfHandle) if (dir === paths.dir) h.info.users.splice(0, h.info.users.length, ...users);
  if (state !== undefined && isAlive(state.pid)) {
    const nextSecond = Math.floor(Date.now() / 1000 + 1) * 1000;
    await sleep(nextSecond - Date.now() + 20);
  }
}

/**
 * Replaces the passwd-file atomically (Dovecot must never parse half a file) and gives it an mtime
 * in a later second than the old one, so that Dovecot notices even a same-size change.
 */
function writePasswdFile(file: string, users: ImapCredentials[]): void {
  const oldMtime = existsSync(file) ? Math.floor(statSync(file).mtimeMs / 1000) : 0;
  const temp = `${file}.${process.pid}.tmp`;
  // Plain-text passwords (the master user's among them): readable by Dovecot's auth process alone,
  // which runs as the `dovecot` account.
  writeFileSync(temp, users.map(passwdLine).join(''), { mode: 0o600 });
  const auth = systemAccount('dovecot');
  if (auth) chownSync(temp, auth.uid, auth.gid);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const mtime = Math.max(nowSeconds, oldMtime + 1);
  utimesSync(temp, mtime, mtime);
  renameSync(temp, file);
}

const dirOfHandle = new Map<ServiceHandle<ImapInfo>, string>();

function handle(paths: Layout, state: DovecotState, reused: boolean): ServiceHandle<ImapInfo> {
  const result: ServiceHandle<ImapInfo> = {
    info: { ...state.info, users: [...state.info.users] },
    reused,
    stop: async () => {
      await stopDovecot(paths, state.pid);
      dirOfHandle.delete(result);
    },
  };
  dirOfHandle.set(result, paths.dir);
  return result;
}

async function stopDovecot(paths: Layout, pid: number): Promise<void> {
  if (isOurDovecot(pid, paths.conf)) {
    // The graceful way first (the master takes about a second); signals by PID if it hangs.
    try {
      await execFileAsync('doveadm', ['-c', paths.conf, 'stop'], { timeout: COMMAND_TIMEOUT_MS });
    } catch {
      // fall through to signals
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    while (Date.now() < deadline && isAlive(pid)) await sleep(50);
    await stopProcessGroup(pid);
  }
  rmSync(paths.stateFile, { force: true });
}

/** Stops the master by PID, then anything left in its process group (spawnDaemon makes one). */
async function stopProcessGroup(pid: number): Promise<void> {
  await stopPid(pid, STOP_GRACE_MS);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already empty
  }
}

/** True only for the master of this instance, never for an unrelated process that reused the PID. */
function isOurDovecot(pid: number, conf: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(conf);
  } catch {
    return false;
  }
}

async function isAnswering(state: DovecotState): Promise<boolean> {
  try {
    return (await readGreeting(state.info.port)).startsWith('* OK');
  } catch {
    return false;
  }
}

async function waitForGreeting(pid: number, port: number, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`dovecot exited during start-up; log tail (${logFile}):\n${tailLog(logFile)}`);
    try {
      last = await readGreeting(port);
      if (last.startsWith('* OK')) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(50);
  }
  throw new Error(
    `timed out after ${START_TIMEOUT_MS} ms waiting for the dovecot IMAP greeting on ${HOST}:${port} (last: ${last}); log tail (${logFile}):\n${tailLog(logFile)}`,
  );
}

/** Reads the first line the server sends; rejects on refusal or after a short time-out. */
function readGreeting(port: number, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: HOST, port });
    let data = '';
    const finish = (error: Error | undefined, line?: string) => {
      socket.destroy();
      if (error) reject(error);
      else resolvePromise(line ?? '');
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no greeting within ${timeoutMs} ms`)));
    socket.on('error', (error) => finish(error));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n');
      if (end >= 0) finish(undefined, data.slice(0, end));
    });
    socket.on('end', () => finish(new Error(`connection closed before greeting (got ${JSON.stringify(data)})`)));
  });
}

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('startDovecot needs root: Dovecot switches to its own accounts and writes mail as the `mail` uid');
  }
}

interface MailAccount {
  name: string;
  uid: number;
  gid: number;
}

/** A system account's uid and gid from /etc/passwd; undefined when it does not exist. */
function systemAccount(name: string): MailAccount | undefined {
  const fields = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith(`${name}:`))
    ?.split(':');
  return fields?.[2] !== undefined && fields[3] !== undefined
    ? { name, uid: Number(fields[2]), gid: Number(fields[3]) }
    : undefined;
}

function mailAccount(): MailAccount {
  for (const name of MAIL_ACCOUNTS) {
    const account = systemAccount(name);
    if (account) return account;
  }
  throw new Error(`none of the system accounts ${MAIL_ACCOUNTS.join(', ')} exists; cannot choose a mail uid`);
}

function prepareDirectories(paths: Layout, account: MailAccount): void {
  for (const d of [dirname(paths.conf), paths.runDir, paths.stateDir, dirname(paths.logFile)])
    mkdirSync(d, { recursive: true });
  mkdirSync(paths.mailDir, { recursive: true });
  for (const folder of PUBLIC_FOLDERS) {
    for (const sub of ['cur', 'new', 'tmp']) {
      mkdirSync(join(paths.publicDir, sub), { recursive: true });
      mkdirSync(join(paths.publicDir, `.${folder}`, sub), { recursive: true });
    }
  }
  // Mail processes run as the mail uid, the auth process as `dovecot`: both must reach into dir.
  chmodSync(paths.dir, 0o755);
  chmodSync(dirname(paths.conf), 0o755);
  checkTraversable(paths.dir);
  chownTree(paths.mailDir, account);
  chownTree(paths.publicDir, account);
}

function chownTree(root: string, account: MailAccount): void {
  chownSync(root, account.uid, account.gid);
  const walk = (dir: string) => {
    for (const sub of ['cur', 'new', 'tmp'])
      if (existsSync(join(dir, sub))) chownSync(join(dir, sub), account.uid, account.gid);
  };
  walk(root);
  for (const folder of PUBLIC_FOLDERS) {
    const folderDir = join(root, `.${folder}`);
    if (existsSync(folderDir)) {
      chownSync(folderDir, account.uid, account.gid);
      walk(folderDir);
    }
  }
}

function checkTraversable(dir: string): void {
  let current = dir;
  for (;;) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `dovecot's unprivileged processes cannot enter ${current} (mode ${(mode & 0o777).toString(8)}); choose a dir whose parents are world-executable`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function validateCredentials(user: ImapCredentials): void {
  if (!/^[A-Za-z0-9._@-]+$/.test(user.name))
    throw new Error(`invalid IMAP user name ${JSON.stringify(user.name)}: use letters, digits and . _ @ -`);
  if (user.password.length === 0 || /[:\r\n]/.test(user.password)) {
    throw new Error(
      `invalid password for ${user.name}: must be non-empty without ':' or line breaks (passwd-file format)`,
    );
  }
}

function withDefaults(oauth2: DovecotOAuth2): Required<DovecotOAuth2> {
  return {
    introspectionUrl: oauth2.introspectionUrl,
    requiredScope: oauth2.requiredScope,
    delegatedScope: oauth2.delegatedScope ?? DEFAULT_DELEGATED_SCOPE,
  };
}

/** The values go into Dovecot's settings files verbatim: one line each. */
function validateOAuth2(oauth2: Required<DovecotOAuth2>): void {
  if (!/^https?:\/\/\S+$/.test(oauth2.introspectionUrl))
    throw new Error(`invalid oauth2 introspectionUrl ${JSON.stringify(oauth2.introspectionUrl)}: an http(s) URL`);
  for (const key of ['requiredScope', 'delegatedScope'] as const) {
    if (!/^\S+$/.test(oauth2[key]))
      throw new Error(`invalid oauth2 ${key} ${JSON.stringify(oauth2[key])}: one scope, no spaces`);
  }
  // Else a user's token, refused for another user's mailbox, would pass as an app's.
  if (oauth2.requiredScope === oauth2.delegatedScope)
    throw new Error(`oauth2 requiredScope and delegatedScope must differ, both are ${oauth2.requiredScope}`);
}

/** An instance recorded before delegatedScope existed has no delegated passdb: it differs. */
function sameOAuth2(a: DovecotOAuth2 | undefined, b: DovecotOAuth2 | undefined): boolean {
  return (
    a?.introspectionUrl === b?.introspectionUrl &&
    a?.requiredScope === b?.requiredScope &&
    a?.delegatedScope === b?.delegatedScope
  );
}

/**
 * Dovecot compares username_format expanded from the login user with it expanded from the token's
 * username_attribute; see the comment in the file for why the format is a constant.
 */
function oauth2AppConfig(oauth2: Required<DovecotOAuth2>): string {
  return `introspection_mode = post
introspection_url = ${oauth2.introspectionUrl}
username_attribute = appid
# App-only tokens name the app, not a mailbox: every mailbox may be opened with a valid token
# holding the scope (Exchange's FullAccess for the app); a constant format makes the check pass.
username_format = mlr-app
active_attribute = active
active_value = true
scope = ${oauth2.requiredScope}
`;
}

/**
 * With the default username_format (%Lu) the token's `username` must be the login user. RFC 7662's
 * `username` is the resource owner: the user (upn) for a user's token, the app for an app-only one,
 * which therefore fails here as an unknown user and goes on to the app passdb.
 */
function oauth2UserConfig(oauth2: Required<DovecotOAuth2>): string {
  return `introspection_mode = post
introspection_url = ${oauth2.introspectionUrl}
username_attribute = username
active_attribute = active
active_value = true
scope = ${oauth2.delegatedScope}
`;
}

function dedupeUsers(users: ImapCredentials[]): ImapCredentials[] {
  const byName = new Map<string, ImapCredentials>();
  for (const user of users) byName.set(user.name, { name: user.name, password: user.password });
  return [...byName.values()];
}

function passwdLine(user: ImapCredentials): string {
  return `${user.name}:{PLAIN}${user.password}::::::\n`;
}

function readUsers(passwdFile: string): ImapCredentials[] {
  if (!existsSync(passwdFile)) return [];
  return readFileSync(passwdFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes(':{PLAIN}'))
    .map((line) => {
      const [name = '', rest = ''] = line.split(':{PLAIN}');
      return { name, password: rest.split(':')[0] ?? '' };
    });
}

function writeUsers(paths: Layout, users: ImapCredentials[], masterUser: ImapCredentials): void {
  // Users added to an earlier run in this dir stay (their mail is still here); `users` win.
  // Both files are read by the auth process, which runs as the `dovecot` account.
  writePasswdFile(paths.passwdFile, dedupeUsers([...readUsers(paths.passwdFile), ...users]));
  writePasswdFile(paths.masterFile, [masterUser]);
}

/** The master user gets every right on every mailbox of every namespace; owners keep their defaults. */
function globalAcl(masterName: string): string {
  return [`* user=${masterName} lrwstipekxa`, `${PUBLIC_PREFIX}* authenticated lr`, ''].join('\n');
}

function dovecotConfig(paths: Layout, port: number, account: MailAccount, oauth2: DovecotOAuth2 | undefined): string {
  // Passwords never reach the oauth2 passdb, tokens never the passwd-file.
  const userPassdbMechanisms = oauth2 !== undefined ? '\n  mechanisms = plain login' : '';
  const oauth2Passdbs =
    oauth2 !== undefined
      ? `# A token for a mailbox that does not exist: refused here as an unknown user, a clean NO as
# from Exchange. Without this, the oauth2 passdb accepts it and the userdb lookup fails after
# authentication ("Internal login failure"), which clients see as a dropped connection.
passdb {
  driver = passwd-file
  args = ${paths.passwdFile}
  mechanisms = xoauth2
  default_fields = noauthenticate
  result_success = continue
  result_failure = return-fail
}
# A user's own token next: the app passdb refuses it as "user disabled" (scope), which ends the
# chain whatever result_failure says; an app token fails this one as an unknown user.
passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = ${paths.oauth2UserFile}
  result_failure = continue
  result_internalfail = continue
}
passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = ${paths.oauth2File}
}
`
      : '';
  const instance = `mlr-${paths.dir.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`.slice(0, 100);
  return `# Generated by libs/testing/src/infra/dovecot.ts; everything lives under ${paths.dir}
instance_name = ${instance}
base_dir = ${paths.runDir}
state_dir = ${paths.stateDir}
protocols = imap
listen = ${HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${oauth2 !== undefined ? ' xoauth2' : ''}
auth_master_user_separator = *
auth_verbose = yes
# Test instance: answer a wrong password at once (see also service anvil below).
auth_failure_delay = 0
log_path = ${paths.logFile}
shutdown_clients = yes

default_internal_user = dovecot
default_login_user = dovenull
mail_uid = ${account.uid}
mail_gid = ${account.gid}
first_valid_uid = ${account.uid}
last_valid_uid = ${account.uid}
first_valid_gid = ${account.gid}
last_valid_gid = ${account.gid}
mail_location = maildir:~/Maildir
mail_plugins = acl

passdb {
  driver = passwd-file
  args = ${paths.masterFile}
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = ${paths.passwdFile}${userPassdbMechanisms}
}
${oauth2Passdbs}userdb {
  driver = passwd-file
  args = ${paths.passwdFile}
  default_fields = uid=${account.uid} gid=${account.gid} home=${paths.mailDir}/%n
}

namespace inbox {
  type = private
  inbox = yes
  separator = /
  prefix =
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
}
namespace public {
  type = public
  separator = /
  prefix = ${PUBLIC_PREFIX}
  location = maildir:${paths.publicDir}:INDEXPVT=~/public-pvt
  subscriptions = no
  list = yes
}

plugin {
  acl = vfile:${paths.aclFile}
}

protocol imap {
  mail_plugins = $mail_plugins imap_acl
}

service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
# Without this, one failed login from 127.0.0.1 delays the next logins by seconds (auth penalty).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;
}
