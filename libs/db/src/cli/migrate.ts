/**
 * Database migrations without the native Prisma schema engine (see ../migration-engine.ts).
 *
 *   migrate.ts deploy          apply pending migrations, then     DATABASE_URL (the owner role),
 *                              each service's role and grants     <SERVICE>_DATABASE_URL (each service's)
 *   migrate.ts roles           only the roles and grants          the same
 *   migrate.ts status          compare database and folder        DATABASE_URL
 *   migrate.ts create <name>   write a migration for the schema   SHADOW_DATABASE_URL
 *   migrate.ts check           fail when schema and migrations    SHADOW_DATABASE_URL
 *                              disagree (prints the missing SQL)
 *
 * SHADOW_DATABASE_URL: any database on a server where that user may CREATE DATABASE; the migrations
 * are replayed in a throw-away database created beside it and dropped afterwards.
 */
import {
  applyMigrations,
  createMigration,
  diagnose,
  diffSchemaAgainstMigrations,
  type DiagnoseMigrationHistoryOutput,
} from '../migration-engine.js';
import {
  ServiceRoleError,
  applyServiceRoles,
  serviceDatabaseUrlVariable,
  serviceLogins,
  type ServiceLogin,
} from '../service-roles.js';
import { DATABASE_SERVICES, type DatabaseService } from '../table-owners.js';

const USAGE = `usage: migrate.ts deploy | roles | status | create <name> | check
  deploy         apply pending migrations (needs DATABASE_URL, the owner role's URL), then give each
                 service its own role with grants on its own tables only (from LICENSING_DATABASE_URL,
                 SCHEDULING_DATABASE_URL, INDEXING_DATABASE_URL and STORAGE_DATABASE_URL: the role and
                 password each service connects with; all four or none)
  roles          only the roles and grants of 'deploy'
  status         show which migrations the database lacks or does not know (needs DATABASE_URL)
  create <name>  write prisma/migrations/<timestamp>_<name> for the changes in schema.prisma
                 (needs SHADOW_DATABASE_URL; name says what changed, e.g. add_restore_jobs)
  check          exit 1 when schema.prisma and the migrations disagree (needs SHADOW_DATABASE_URL)`;

class UsageError extends Error {}

function requireEnv(name: 'DATABASE_URL' | 'SHADOW_DATABASE_URL', command: string): string {
  const value = process.env[name];
  if (!value) {
    const hint =
      name === 'SHADOW_DATABASE_URL'
        ? ' (a database on a server where this user may CREATE DATABASE, e.g. postgresql://postgres@127.0.0.1:5432/postgres; nothing in it is changed)'
        : ' (e.g. postgresql://user:password@127.0.0.1:5432/mlr)';
    throw new UsageError(`'${command}' needs ${name}${hint}`);
  }
  return value;
}

/** The services' logins from their URLs: all four, or undefined when none is set. */
function serviceLoginsFromEnv(): ServiceLogin[] | undefined {
  const variables = DATABASE_SERVICES.map((service) => [service, serviceDatabaseUrlVariable(service)] as const);
  const given = variables.filter(([, variable]) => process.env[variable]);
  if (given.length === 0) return undefined;
  const missing = variables.filter(([, variable]) => !process.env[variable]).map(([, variable]) => variable);
  if (missing.length > 0) {
    throw new UsageError(`each service needs its own database URL: ${missing.join(', ')} not set`);
  }
  const urls = Object.fromEntries(variables.map(([service, variable]) => [service, process.env[variable] ?? '']));
  return serviceLogins(urls as Record<DatabaseService, string>);
}

async function applyRoles(ownerUrl: string, logins: ServiceLogin[]): Promise<void> {
  const applied = await applyServiceRoles(ownerUrl, logins);
  if (applied.created.length > 0) console.log(`created roles: ${applied.created.join(', ')}`);
  console.log(`granted each service its own tables only: ${applied.granted.join(', ')}`);
}

function describeStatus(status: DiagnoseMigrationHistoryOutput): { text: string; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  if (!status.hasMigrationsTable) lines.push('no _prisma_migrations table: no migration has been applied yet');
  if (status.failedMigrationNames.length > 0) {
    ok = false;
    lines.push(`failed migrations: ${status.failedMigrationNames.join(', ')}`);
  }
  if (status.editedMigrationNames.length > 0) {
    ok = false;
    lines.push(`migrations edited after they were applied: ${status.editedMigrationNames.join(', ')}`);
  }
  const history = status.history;
  if (history === null) {
    lines.push('database and migrations folder are in step');
  } else {
    ok = false;
    switch (history.diagnostic) {
      case 'databaseIsBehind':
        lines.push(`not yet applied: ${history.unappliedMigrationNames.join(', ')}`);
        break;
      case 'migrationsDirectoryIsBehind':
        lines.push(`applied but missing from the folder: ${history.unpersistedMigrationNames.join(', ')}`);
        break;
      case 'historiesDiverge':
        lines.push(
          `histories diverge after ${history.lastCommonMigrationName ?? '(the beginning)'}: ` +
            `not applied: ${history.unappliedMigrationNames.join(', ') || '-'}; ` +
            `unknown to the folder: ${history.unpersistedMigrationNames.join(', ') || '-'}`,
        );
        break;
    }
  }
  return { text: lines.join('\n'), ok };
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'deploy': {
      const ownerUrl = requireEnv('DATABASE_URL', command);
      const logins = serviceLoginsFromEnv();
      const applied = await applyMigrations(ownerUrl);
      console.log(applied.length === 0 ? 'no pending migrations' : `applied: ${applied.join(', ')}`);
      if (logins === undefined) {
        console.error(
          'service roles not managed: no <SERVICE>_DATABASE_URL given, so every service must be given a role by hand ' +
            '(see libs/db/src/table-owners.ts for what each may touch)',
        );
      } else {
        await applyRoles(ownerUrl, logins);
      }
      return 0;
    }
    case 'roles': {
      const ownerUrl = requireEnv('DATABASE_URL', command);
      const logins = serviceLoginsFromEnv();
      if (logins === undefined) {
        throw new UsageError(`'roles' needs ${DATABASE_SERVICES.map(serviceDatabaseUrlVariable).join(', ')}`);
      }
      await applyRoles(ownerUrl, logins);
      return 0;
    }
    case 'status': {
      const { text, ok } = describeStatus(await diagnose(requireEnv('DATABASE_URL', command)));
      console.log(text);
      return ok ? 0 : 1;
    }
    case 'create': {
      const name = rest[0];
      if (!name || rest.length > 1) throw new UsageError("'create' takes exactly one migration name");
      const created = await createMigration(name, requireEnv('SHADOW_DATABASE_URL', command));
      if (created === undefined) {
        console.log('schema.prisma and the migrations agree: no migration written');
      } else {
        console.log(`wrote ${created.path}\nreview it before committing (renames and data moves need hand edits)`);
      }
      return 0;
    }
    case 'check': {
      const sql = await diffSchemaAgainstMigrations(requireEnv('SHADOW_DATABASE_URL', command));
      if (sql === '') {
        console.log('schema.prisma and the migrations agree');
        return 0;
      }
      console.error(`schema.prisma and the migrations disagree; a migration needs:\n${sql}`);
      return 1;
    }
    default:
      throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ServiceRoleError) {
      console.error(`service roles: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
