/**
 * The image's commands, run here without a Docker engine. The Dockerfile's runtime stage holds
 * production node_modules and dist/ only, in WORKDIR /app; this test lays out a directory the same
 * way outside the repository (dist/ copied, node_modules linked), and runs there exactly the
 * command lines the chart gives its containers and the Dockerfile's CMD: the migrations Job's
 * command migrates an empty database, every service starts on it and reports healthy.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  DIST_DIR,
  MIGRATE_COMMAND,
  SETUP_BUCKET_COMMAND,
  PLATFORM_SERVICES,
  CLOUD_ENV,
  envFor,
  serviceDatabaseEnv,
  serviceDatabaseUrls,
  REPO_ROOT,
  cloudCommand,
  createScratchDatabase,
  ensureBuilt,
  required,
  startProcess,
  type RunningApp,
  type ScratchDatabase,
} from '@mlr/testing';
import { byKind, objectName, render } from '../../charts/mlr/tests/render.js';

const execFileAsync = promisify(execFile);

interface DockerStage {
  from: string;
  name?: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/** The Dockerfile's stages with their instructions (continuation lines joined, comments dropped). */
function dockerStages(text: string): { args: Map<string, string>; stages: DockerStage[] } {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (keyword === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ from, ...(name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0 && keyword === 'ARG') {
      const [name = '', value = ''] = rest.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

/** The packages a compiled file imports (static and dynamic imports of a string). */
function importedPackages(code: string): string[] {
  const packages: string[] = [];
  const specifiers = /\bfrom\s*"([^"\s]+)"|\bimport\s*\(\s*"([^"\s]+)"\s*\)|^\s*import\s*"([^"\s]+)"/gm;
  for (const [, from, dynamic, bare] of code.matchAll(specifiers)) {
    const specifier = from ?? dynamic ?? bare ?? '';
    if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
    const parts = specifier.split('/');
    packages.push(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
  }
  return packages;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((file) => join(dir, file))
    .filter((path) => statSync(path).isFile());
}

const dockerfile = dockerStages(readFileSync(join(REPO_ROOT, 'deploy/docker/Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1);

describe('the image (deploy/docker/Dockerfile)', () => {
  it('is based on a supported Node.js LTS', () => {
    const image = runtime?.from.replace(/^\$\{(\w+)\}$/, (_, name: string) => dockerfile.args.get(name) ?? '');
    const major = Number(/^node:(\d+)/.exec(image ?? '')?.[1]);
    expect([22, 24]).toContain(major);
  });

  it('runs production dependencies and the compiled output only, from /app', () => {
    const instructions = runtime?.instructions ?? [];
    expect(instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    const copied = instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/));
    expect(copied.map((args) => args.at(-1)).sort()).toEqual(['./dist', './node_modules']);
    const stageOf = (source: string) => copied.find((args) => args.at(-2) === source)?.[0]?.replace('--from=', '');
    const dependencies = dockerfile.stages.find((stage) => stage.name === stageOf('/app/node_modules'));
    expect(dependencies?.instructions.some((i) => i.args.includes('npm install --omit=dev'))).toBe(true);
    const build = dockerfile.stages.find((stage) => stage.name === stageOf('/app/dist'));
    expect(build?.instructions.some((i) => i.keyword === 'RUN' && i.args === 'npm run build')).toBe(true);
  });

  it("sets the environment the services run with here (CLOUD_ENV: glibc's malloc settings)", () => {
    const env = new Map<string, string>();
    for (const instruction of (runtime?.instructions ?? []).filter((i) => i.keyword === 'ENV')) {
      for (const pair of instruction.args.split(/\s+/)) {
        const [name = '', value = ''] = pair.split('=');
        env.set(name, value);
      }
    }
    for (const [name, value] of Object.entries(CLOUD_ENV)) expect(env.get(name), name).toBe(value);
  });

  it('needs no package at run time that is only a development dependency', () => {
    ensureBuilt();
    const { dependencies } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const missing = new Set<string>();
    for (const file of filesUnder(DIST_DIR).filter((path) => path.endsWith('.js'))) {
      for (const name of importedPackages(readFileSync(file, 'utf8'))) {
        if (!(name in dependencies) && !builtinModules.includes(name)) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

describe("the image's commands, run against dist/ laid out as in the image", () => {
  const infra = inject('infra');
  const release = 'rel';
  const image = mkdtempSync(join(tmpdir(), 'mlr-image-'));
  const logDir = mkdtempSync(join(REPO_ROOT, 'tmp', 'image-commands-'));
  const running: RunningApp[] = [];
  let database: ScratchDatabase;
  let deployments: Map<string, IDeployment>;
  let migrationsJob: IJob | undefined;
  let bucketSetupJob: IJob | undefined;

  const commandOf = (spec: { containers: Array<{ command?: string[]; args?: string[] }> } | undefined) => {
    const container = spec?.containers[0];
    return [...(container?.command ?? []), ...(container?.args ?? [])];
  };

  beforeAll(async () => {
    ensureBuilt();
    cpSync(DIST_DIR, join(image, 'dist'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(image, 'node_modules'));
    const rendered = await render({ release });
    deployments = byKind<IDeployment>(rendered, 'Deployment');
    const jobs = byKind<IJob>(rendered, 'Job');
    migrationsJob = jobs.get(objectName(release, 'migrations'));
    bucketSetupJob = jobs.get(objectName(release, 'bucket-setup'));
    database = await createScratchDatabase(required(infra, 'postgres').databaseUrl, 'image_commands');
  });

  afterAll(async () => {
    await Promise.allSettled(running.map((app) => app.stop()));
    await database?.drop();
    rmSync(image, { recursive: true, force: true });
  });

  it("the migrations Job's command applies every migration to an empty database", async () => {
    const command = commandOf(migrationsJob?.spec?.template.spec);
    expect(command).toEqual(MIGRATE_COMMAND);
    const [, ...args] = command;
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      DATABASE_URL: database.url,
      ...serviceDatabaseEnv(serviceDatabaseUrls(database.url)),
    };
    const { stdout } = await execFileAsync(process.execPath, args, { cwd: image, env });
    const migrations = readdirSync(join(REPO_ROOT, 'prisma', 'migrations'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(stdout).toContain(`applied: ${migrations.join(', ')}\n`);
    expect(stdout).toContain(
      'granted each service its own tables only: licensing: mlr_licensing, scheduling: mlr_scheduling, indexing: mlr_indexing, storage: mlr_storage',
    );
    const status = await execFileAsync(process.execPath, [...args.slice(0, -1), 'status'], { cwd: image, env });
    expect(status.stdout).toContain('database and migrations folder are in step');
  });

  it("the bucket set-up Job's command protects a new bucket with the owner's key", async () => {
    const command = commandOf(bucketSetupJob?.spec?.template.spec);
    expect(command).toEqual(SETUP_BUCKET_COMMAND);
    const s3 = required(infra, 's3');
    const bucket = `mlr-image-${Date.now().toString(36)}`;
    const [, ...args] = command;
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: bucket,
      S3_OWNER_ACCESS_KEY: s3.accessKey,
      S3_OWNER_SECRET_KEY: s3.secretKey,
      S3_SERVICE_USER: s3.service.user,
      STORAGE_DEFAULT_RETENTION_DAYS: '7',
    };
    const { stdout } = await execFileAsync(process.execPath, [...args, '--json'], { cwd: image, env });
    expect(JSON.parse(stdout)).toMatchObject({
      bucket,
      created: true,
      policy: 'created',
      defaultRetention: { after: { mode: 'COMPLIANCE', days: 7 } },
    });
    // A missing setting is a configuration error (exit 2) that names it.
    const refused = await execFileAsync(process.execPath, args, {
      cwd: image,
      env: { ...env, S3_SERVICE_USER: '' },
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/S3_SERVICE_USER/);
  });

  it("every service's command starts it, and it reports healthy; the gateway's is the Dockerfile's CMD", async () => {
    // Each service with only its own secrets, as the chart gives them.
    const env = (service: (typeof PLATFORM_SERVICES)[number]) => ({
      ...CLOUD_ENV,
      ...envFor(service, { ...infra.serviceEnv, ...serviceDatabaseEnv(serviceDatabaseUrls(database.url)) }),
    });
    const commandOfService = (service: string) =>
      commandOf(deployments.get(objectName(release, service))?.spec?.template.spec);
    const backends = PLATFORM_SERVICES.filter((service) => service !== 'gateway');
    // The tests, the demo and the benchmarks start the services with the same command lines (startApp).
    for (const service of PLATFORM_SERVICES) {
      expect(commandOfService(service)).toEqual(cloudCommand(`dist/apps/${service}/src/main.js`));
    }
    running.push(
      ...(await Promise.all(
        backends.map((service) =>
          startProcess({ name: service, command: commandOfService(service), cwd: image, env: env(service), logDir }),
        ),
      )),
    );

    const cmd = runtime?.instructions.find((i) => i.keyword === 'CMD')?.args;
    const gatewayCommand = JSON.parse(cmd ?? '[]') as string[];
    expect(gatewayCommand).toEqual(commandOfService('gateway'));
    running.push(
      await startProcess({ name: 'gateway', command: gatewayCommand, cwd: image, env: env('gateway'), logDir }),
    );
  });
});
