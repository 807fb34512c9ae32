/**
 * One PostgreSQL role per service, with privileges on its own tables only (table-owners.ts). Run by
 * the migrations command as the owner role after the migrations, so that a table a migration adds is
 * granted in the same step. Each service's role and password are those of the URL it is given
 * (`<SERVICE>_DATABASE_URL`): the URLs are the one place they are written down.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { DATABASE_SERVICES, serviceGrantStatements, type DatabaseService } from './table-owners.js';

export class ServiceRoleError extends Error {}

/** The variable that holds `service`'s database URL for the migrations command. */
export function serviceDatabaseUrlVariable(service: DatabaseService): string {
  return `${service.toUpperCase()}_DATABASE_URL`;
}

export interface ServiceLogin {
  service: DatabaseService;
  role: string;
  /** Set on the role when given; a role without one logs in as the server's authentication allows. */
  password: string | undefined;
}

/** The role and password of each service's URL; refuses URLs that are not PostgreSQL's or share a role. */
export function serviceLogins(urls: Readonly<Record<DatabaseService, string>>): ServiceLogin[] {
  const logins = DATABASE_SERVICES.map((service): ServiceLogin => {
    let url: URL;
    try {
      url = new URL(urls[service]);
    } catch {
      throw new ServiceRoleError(`${serviceDatabaseUrlVariable(service)} is not a URL`);
    }
    if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
      throw new ServiceRoleError(`${serviceDatabaseUrlVariable(service)} is not a postgresql:// URL`);
    }
    const role = decodeURIComponent(url.username);
    if (role === '') throw new ServiceRoleError(`${serviceDatabaseUrlVariable(service)} names no user`);
    return { service, role, password: url.password === '' ? undefined : decodeURIComponent(url.password) };
  });
  for (const login of logins) {
    const other = logins.find((candidate) => candidate !== login && candidate.role === login.role);
    if (other) {
      throw new ServiceRoleError(
        `${login.service} and ${other.service} would both connect as '${login.role}': each service needs a role of its own`,
      );
    }
  }
  return logins;
}

export interface AppliedRoles {
  created: string[];
  granted: string[];
}

/**
 * Roles whose members may read or write any table: a service role in one of them (or in the owner's)
 * would make its grants meaningless.
 */
const ALL_DATA_ROLES = ['pg_read_all_data', 'pg_write_all_data'];

/**
 * Creates each service's role when missing (LOGIN, no other attribute, with the password of its URL
 * — sent as a SCRAM-SHA-256 verifier, so the server never sees or logs the password itself), and
 * grants it exactly its service's privileges. A role that exists keeps its password (whoever made
 * it manages it; changing it would need CREATEROLE, and on PostgreSQL 16 ADMIN OPTION on the role).
 * Refuses a role that is the owner itself, a superuser, may bypass row security or create roles or
 * databases, or is a member of the owner or of a role that reads or writes all data: any of those
 * would make the grants meaningless.
 */
export async function applyServiceRoles(ownerUrl: string, logins: readonly ServiceLogin[]): Promise<AppliedRoles> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const owner = await oneValue(client, 'SELECT current_user AS value');
    const created: string[] = [];
    for (const login of logins) {
      if (login.role === owner) {
        throw new ServiceRoleError(`${login.service} would connect as '${owner}', the owner that runs the migrations`);
      }
      const existing = await client.query<{
        rolsuper: boolean;
        rolcreaterole: boolean;
        rolcreatedb: boolean;
        rolbypassrls: boolean;
      }>('SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = $1', [login.role]);
      const found = existing.rows[0];
      if (found === undefined) {
        await createRole(client, login.role, login.password);
        created.push(login.role);
        continue;
      }
      if (found.rolsuper || found.rolcreaterole || found.rolcreatedb || found.rolbypassrls) {
        throw new ServiceRoleError(
          `role '${login.role}' of ${login.service} is a superuser or may create roles or databases or bypass row security: ` +
            'a service role must hold nothing but its grants',
        );
      }
      const memberships = await client.query<{ rolname: string }>(
        `SELECT g.rolname FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
         WHERE r.rolname = $1 AND g.rolname = ANY($2::text[])`,
        [login.role, [owner, ...ALL_DATA_ROLES]],
      );
      if (memberships.rows.length > 0) {
        throw new ServiceRoleError(
          `role '${login.role}' of ${login.service} is a member of ${memberships.rows.map((row) => `'${row.rolname}'`).join(', ')}: ` +
            'through it, it could touch every table; a service role must hold nothing but its grants',
        );
      }
    }

    const tables = (
      await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'",
      )
    ).rows.map((row) => row.tablename);
    const sequences = (
      await client.query<{ sequencename: string }>("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
    ).rows.map((row) => row.sequencename);

    // One transaction: a service never sees its grants half revoked.
    await client.query('BEGIN');
    try {
      for (const login of logins) {
        for (const statement of serviceGrantStatements(login.service, login.role, tables, sequences)) {
          await client.query(statement);
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    return { created, granted: logins.map((login) => `${login.service}: ${login.role}`) };
  } finally {
    await client.end();
  }
}

/**
 * A SCRAM-SHA-256 verifier of `password` (RFC 5802/7677, as PostgreSQL stores it): given to
 * CREATE ROLE … PASSWORD, the server keeps it as it is and never sees the password.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** CREATE ROLE that tolerates another migrations run creating the same role at the same moment. */
async function createRole(client: pg.Client, role: string, password: string | undefined): Promise<void> {
  // Quoted by the server (format's %I and %L): a role may hold any character.
  // A password of other than printable ASCII goes as it is (the server hashes it after its SASLprep,
  // which this verifier does not reproduce); every other one as a verifier.
  const asVerifier = password !== undefined && /^[\x20-\x7e]*$/.test(password);
  const secret = password === undefined ? undefined : asVerifier ? scramVerifier(password) : password;
  const statement =
    secret === undefined
      ? await oneValue(client, `SELECT format('CREATE ROLE %I LOGIN', $1::text) AS value`, [role])
      : await oneValue(client, `SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) AS value`, [
          role,
          secret,
        ]);
  try {
    await client.query(statement);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // duplicate_object, or unique_violation when both inserts into pg_authid raced.
    if (code !== '42710' && code !== '23505') throw error;
  }
}

async function oneValue(client: pg.Client, sql: string, values: unknown[] = []): Promise<string> {
  const row = (await client.query<{ value: string }>(sql, values)).rows[0];
  if (row === undefined) throw new Error(`no row from: ${sql}`);
  return row.value;
}
