import { defineConfig } from 'prisma/config';

// Prisma 7 reads connection URLs from here, not from schema.prisma. Only the Prisma CLI reads this
// file (`prisma generate --config prisma/prisma.config.ts`); our own migration runner
// (libs/db/src/cli/migrate.ts) takes DATABASE_URL / SHADOW_DATABASE_URL itself. `generate` needs no
// database, so the URLs are optional here.
export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: {
    url: process.env['DATABASE_URL'],
    shadowDatabaseUrl: process.env['SHADOW_DATABASE_URL'],
  },
});
