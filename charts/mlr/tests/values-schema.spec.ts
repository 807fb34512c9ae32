import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureHelm } from './helm-binary.js';
import { byKind, CHART_DIR, helmTemplate, render } from './render.js';

// Every test runs helm; the first run of all also downloads it (see helm-binary.ts).
vi.setConfig({ testTimeout: 30_000, hookTimeout: 180_000 });

beforeAll(async () => {
  await ensureHelm();
});

describe('values.schema.json', () => {
  it('is a draft-07 schema that closes the top level', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema['additionalProperties']).toBe(false);
  });

  it.each([
    [
      'a replica count that is not a number',
      { services: { storage: { replicas: 'two' } } },
      'services.storage.replicas',
    ],
    ['an unknown top-level key', { replicaCount: 2 }, 'Additional property replicaCount is not allowed'],
    [
      'a misspelt service setting',
      { services: { gateway: { replica: 2 } } },
      'Additional property replica is not allowed',
    ],
    [
      'a service the chart does not run',
      { services: { connector: {} } },
      'Additional property connector is not allowed',
    ],
    ['a NATS URL that is not nats:// or tls://', { nats: { url: 'http://nats:4222' } }, 'nats.url'],
    ['an unknown log level', { logLevel: 'verbose' }, 'logLevel'],
    ['an invalid bucket name', { s3: { bucket: 'My_Bucket' } }, 's3.bucket'],
    [
      'a database URL that is not PostgreSQL',
      { database: { indexing: { existingSecret: '', url: 'mysql://db/mlr' } } },
      'database.indexing.url',
    ],
    [
      'one URL shared by every service (the chart before per-service roles)',
      { database: { url: 'postgresql://mlr@db/mlr' } },
      'database: Additional property url is not allowed',
    ],
    ['a port out of range', { services: { gateway: { service: { port: 70000 } } } }, 'services.gateway.service.port'],
    [
      'an env override of a variable the chart manages',
      { services: { storage: { env: { DATABASE_URL: 'postgresql://elsewhere/mlr' } } } },
      'services.storage.env',
    ],
    ['an image digest that is not sha256', { image: { digest: 'latest' } }, 'image.digest'],
    ['a JWKS URL that is not HTTP(S)', { auth: { jwksUrl: 'ftp://idp/jwks' } }, 'auth.jwksUrl'],
    [
      'a token setting overridden through env',
      { services: { gateway: { env: { AUTH_JWT_ISSUER: 'someone' } } } },
      'services.gateway.env',
    ],
  ])('rejects %s with helm’s schema error', async (_, values, message) => {
    const result = await helmTemplate({ values });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(message);
  });

  it('accepts numbers and booleans as service settings and renders them as strings', async () => {
    const rendered = await render({ values: { services: { scheduling: { env: { SCHEDULING_TICK_MS: 250 } } } } });
    const deployment = byKind<{
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    }>(rendered, 'Deployment').get('rel-mlr-scheduling');
    const env = deployment?.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'SCHEDULING_TICK_MS')?.value).toBe('250');
  });
});

describe('combinations the templates refuse', () => {
  it.each([
    [
      "no database credentials for a service's role",
      { database: { scheduling: { existingSecret: '', url: '' } } },
      'database.scheduling: set existingSecret',
    ],
    [
      'no owner credentials for the migrations',
      { migrations: { database: { existingSecret: '', url: '' } } },
      'migrations.database: set existingSecret',
    ],
    [
      "a service given the owner's URL",
      { database: { storage: { existingSecret: 'mlr-database', urlKey: 'DATABASE_URL' } } },
      "database.storage: the same URL as migrations.database; each service needs a role of its own, not the owner's",
    ],
    [
      'NATS auth without credentials',
      { nats: { auth: { existingSecret: '', user: 'services', password: '' } } },
      'nats.auth: set nats.auth.existingSecret',
    ],
    [
      'S3 without credentials',
      { s3: { existingSecret: '', accessKey: '', secretKey: '' } },
      's3: set s3.existingSecret',
    ],
    [
      'an ingress without the gateway',
      {
        ingress: { enabled: true, hosts: [{ host: 'a.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }] },
        services: { gateway: { enabled: false } },
      },
      'ingress.enabled needs services.gateway.enabled',
    ],
    [
      'an ingress without hosts',
      { ingress: { enabled: true } },
      'ingress.enabled needs at least one entry in ingress.hosts',
    ],
    [
      'a gateway without a token key',
      { auth: { issuer: 'https://idp.example.com', existingSecret: '' } },
      "auth: the gateway needs the token issuer's public key",
    ],
    [
      'two token keys',
      { auth: { jwksUrl: 'https://idp.example.com/jwks', publicKey: '-----BEGIN PUBLIC KEY-----' } },
      'auth: set only one of auth.jwksUrl and auth.publicKey',
    ],
    [
      'a gateway without a token issuer',
      { auth: { jwksUrl: 'https://idp.example.com/jwks', existingSecret: '' } },
      'auth: set auth.issuer',
    ],
    [
      'an autoscaler whose minimum is above its maximum',
      { services: { indexing: { autoscaling: { enabled: true, minReplicas: 9, maxReplicas: 3 } } } },
      'services.indexing.autoscaling: minReplicas (9) is above maxReplicas (3)',
    ],
    [
      "a bucket set-up without the owner's key",
      { bucketSetup: { existingSecret: '' } },
      "bucketSetup: set bucketSetup.existingSecret (a Secret with the bucket owner's S3 key)",
    ],
    [
      "a bucket set-up without the services' user",
      { bucketSetup: { serviceUser: '' } },
      'and bucketSetup.serviceUser (the S3 user of',
    ],
  ])('fails on %s with a message that says what to set', async (_, values, message) => {
    const result = await helmTemplate({ values });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('connects to NATS without credentials when its auth is disabled', async () => {
    const rendered = await render({ values: { nats: { auth: { enabled: false, existingSecret: '' } } } });
    const deployments = byKind<{ spec: { template: { spec: { containers: { env: { name: string }[] }[] } } } }>(
      rendered,
      'Deployment',
    );
    for (const [name, deployment] of deployments) {
      const names = deployment.spec.template.spec.containers[0]!.env.map((e) => e.name);
      expect(names, name).toContain('NATS_URL');
      expect(names, name).not.toContain('NATS_USER');
      expect(names, name).not.toContain('NATS_PASSWORD');
    }
    expect(byKind(rendered, 'Secret').size).toBe(0);
  });

  it('needs no S3 credentials when storage is disabled', async () => {
    const rendered = await render({
      values: { s3: { existingSecret: '', accessKey: '', secretKey: '' }, services: { storage: { enabled: false } } },
    });
    expect([...byKind(rendered, 'Deployment').keys()]).not.toContain('rel-mlr-storage');
    expect(byKind(rendered, 'Secret').size).toBe(0);
  });
});
