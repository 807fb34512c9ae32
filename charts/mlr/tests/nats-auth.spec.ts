/**
 * How the services authenticate to NATS (nats.auth.mode: creds, password, none), and the NATS keys
 * only licensing gets: the account signing key that mints connector credentials and the operator
 * signing key + system account user that revoke them.
 */
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { gatewayConfigSchema } from '../../../apps/gateway/src/config.js';
import { indexingConfigSchema } from '../../../apps/indexing/src/config.js';
import { licensingConfigSchema } from '../../../apps/licensing/src/config.js';
import { schedulingConfigSchema } from '../../../apps/scheduling/src/config.js';
import { storageConfigSchema } from '../../../apps/storage/src/config.js';
import { ensureHelm } from './helm-binary.js';
import {
  container,
  deploymentOf,
  envOf,
  makeSamples,
  removeSamples,
  resolvedEnv,
  secretFileAt,
  type Samples,
} from './pods.js';
import { byKind, helmTemplate, render, SERVICES, validateManifest, type RenderedManifest } from './render.js';

// Every test runs helm; the first run of all also downloads it (see helm-binary.ts).
vi.setConfig({ testTimeout: 30_000, hookTimeout: 180_000 });

const CONFIG_SCHEMAS = {
  licensing: licensingConfigSchema,
  scheduling: schedulingConfigSchema,
  indexing: indexingConfigSchema,
  storage: storageConfigSchema,
  gateway: gatewayConfigSchema,
} satisfies Record<(typeof SERVICES)[number], z.ZodType>;

const CREDS_PATH = '/var/run/secrets/mlr/nats/nats.creds';
const SYSTEM_CREDS_PATH = '/var/run/secrets/mlr/nats-system/system.creds';
/** 0440: readable by the owner (root) and the pod's fsGroup, which the services run with. */
const READ_ONLY_FOR_GROUP = 0o440;

const CREDS_MODE = { nats: { auth: { mode: 'creds', credsSecret: 'nats-services' } } };
const LICENSING_NATS = {
  connectorCredentials: { existingSecret: 'nats-connector-signing' },
  natsRevocation: { existingSecret: 'nats-revocation' },
};

const LICENSING_VARIABLES = [
  'LICENSING_NATS_ACCOUNT_PUBLIC_KEY',
  'LICENSING_NATS_ACCOUNT_SIGNING_SEED',
  'LICENSING_NATS_OPERATOR_SIGNING_SEED',
  'LICENSING_NATS_SYSTEM_CREDS',
];

function podSpec(rendered: RenderedManifest[], service: (typeof SERVICES)[number]): IPodSpec | undefined {
  return deploymentOf(rendered, 'rel', service).spec?.template.spec;
}

function secretVolumes(spec: IPodSpec | undefined): string[] {
  return (spec?.volumes ?? []).filter((v) => v.secret).map((v) => v.secret!.secretName!);
}

let samples: Samples;
beforeAll(async () => {
  await ensureHelm();
  samples = await makeSamples();
});
afterAll(() => removeSamples(samples));

describe('nats.auth.mode=creds (NATS in operator mode)', () => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render({ values: CREDS_MODE });
  });

  it('renders manifests that match the Kubernetes API schemas and creates no Secret', () => {
    for (const manifest of rendered) validateManifest(manifest);
    expect(byKind(rendered, 'Secret').size).toBe(0);
  });

  it.each(SERVICES)('mounts the creds file read-only into %s and points NATS_CREDS at it', (service) => {
    const spec = podSpec(rendered, service);
    const c = container(spec, service);
    const env = envOf(c);
    expect(env.get('NATS_CREDS')?.value).toBe(CREDS_PATH);
    expect(secretFileAt(spec, c, CREDS_PATH)).toEqual({
      secretName: 'nats-services',
      key: 'nats.creds',
      mode: READ_ONLY_FOR_GROUP,
      readOnly: true,
    });
    expect(spec?.securityContext?.fsGroup).toBe(spec?.securityContext?.runAsGroup);
    // Only the one key of the Secret becomes a file: other keys of it stay out of the pod.
    const volume = spec?.volumes?.find((v) => v.secret?.secretName === 'nats-services');
    expect(volume?.secret?.items).toEqual([{ key: 'nats.creds', path: 'nats.creds' }]);
  });

  it.each(SERVICES)('gives %s no NATS user or password', (service) => {
    const env = envOf(container(podSpec(rendered, service)));
    expect(env.has('NATS_USER')).toBe(false);
    expect(env.has('NATS_PASSWORD')).toBe(false);
    expect(env.get('NATS_URL')?.value).toBe('nats://nats:4222');
  });

  it.each(SERVICES)('gives %s an environment its config schema accepts, with the creds file in place', (service) => {
    const spec = podSpec(rendered, service);
    const env = resolvedEnv(spec, container(spec, service), samples);
    const schema = CONFIG_SCHEMAS[service];
    expect(Object.keys(env).filter((name) => !(name in schema.shape))).toEqual([]);
    const parsed = schema.safeParse(env);
    expect(parsed.success, parsed.error?.message).toBe(true);
  });

  it('gives licensing no connector or revocation keys unless their Secrets are named', () => {
    const env = envOf(container(podSpec(rendered, 'licensing')));
    expect(LICENSING_VARIABLES.filter((name) => env.has(name))).toEqual([]);
    expect(secretVolumes(podSpec(rendered, 'licensing'))).toEqual(['nats-services']);
  });

  it('reads the creds file from the key named by credsKey', async () => {
    const custom = await render({
      values: { nats: { auth: { ...CREDS_MODE.nats.auth, credsKey: 'services.creds' } } },
    });
    const spec = podSpec(custom, 'indexing');
    expect(secretFileAt(spec, container(spec), CREDS_PATH)).toMatchObject({
      secretName: 'nats-services',
      key: 'services.creds',
    });
  });
});

describe('licensing with connector credentials and NATS revocation', () => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render({ values: { ...CREDS_MODE, licensing: LICENSING_NATS } });
  });

  it('renders manifests that match the Kubernetes API schemas', () => {
    for (const manifest of rendered) validateManifest(manifest);
  });

  it('gives licensing the account key and signing seed from the connector credentials Secret', () => {
    const env = envOf(container(podSpec(rendered, 'licensing')));
    expect(env.get('LICENSING_NATS_ACCOUNT_PUBLIC_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'nats-connector-signing',
      key: 'LICENSING_NATS_ACCOUNT_PUBLIC_KEY',
    });
    expect(env.get('LICENSING_NATS_ACCOUNT_SIGNING_SEED')?.valueFrom?.secretKeyRef).toEqual({
      name: 'nats-connector-signing',
      key: 'LICENSING_NATS_ACCOUNT_SIGNING_SEED',
    });
  });

  it('gives licensing the operator signing seed and mounts the system user creds file read-only', () => {
    const spec = podSpec(rendered, 'licensing');
    const c = container(spec);
    const env = envOf(c);
    expect(env.get('LICENSING_NATS_OPERATOR_SIGNING_SEED')?.valueFrom?.secretKeyRef).toEqual({
      name: 'nats-revocation',
      key: 'LICENSING_NATS_OPERATOR_SIGNING_SEED',
    });
    expect(env.get('LICENSING_NATS_SYSTEM_CREDS')?.value).toBe(SYSTEM_CREDS_PATH);
    expect(secretFileAt(spec, c, SYSTEM_CREDS_PATH)).toEqual({
      secretName: 'nats-revocation',
      key: 'system.creds',
      mode: READ_ONLY_FOR_GROUP,
      readOnly: true,
    });
    // The seed goes only into the environment: the revocation Secret's other keys are not files.
    const volume = spec?.volumes?.find((v) => v.secret?.secretName === 'nats-revocation');
    expect(volume?.secret?.items).toEqual([{ key: 'system.creds', path: 'system.creds' }]);
    expect(env.get('NATS_CREDS')?.value).toBe(CREDS_PATH);
  });

  it('gives licensing an environment its config schema accepts', () => {
    const spec = podSpec(rendered, 'licensing');
    const env = resolvedEnv(spec, container(spec), samples);
    const parsed = licensingConfigSchema.safeParse(env);
    expect(parsed.success, parsed.error?.message).toBe(true);
  });

  it.each(SERVICES.filter((s) => s !== 'licensing'))('gives %s none of the licensing NATS keys', (service) => {
    const spec = podSpec(rendered, service);
    const env = envOf(container(spec));
    expect([...env.keys()].filter((name) => name.startsWith('LICENSING_'))).toEqual([]);
    expect(secretVolumes(spec)).toEqual(['nats-services']);
  });

  it('names the keys of both Secrets as configured', async () => {
    const custom = await render({
      values: {
        ...CREDS_MODE,
        licensing: {
          connectorCredentials: {
            existingSecret: 'nats-keys',
            accountPublicKeyKey: 'account-public-key',
            accountSigningSeedKey: 'account-signing-seed',
          },
          natsRevocation: {
            existingSecret: 'nats-keys',
            operatorSigningSeedKey: 'operator-signing-seed',
            systemCredsKey: 'sys.creds',
          },
        },
      },
    });
    const spec = podSpec(custom, 'licensing');
    const c = container(spec);
    const env = envOf(c);
    expect(env.get('LICENSING_NATS_ACCOUNT_PUBLIC_KEY')?.valueFrom?.secretKeyRef?.key).toBe('account-public-key');
    expect(env.get('LICENSING_NATS_ACCOUNT_SIGNING_SEED')?.valueFrom?.secretKeyRef?.key).toBe('account-signing-seed');
    expect(env.get('LICENSING_NATS_OPERATOR_SIGNING_SEED')?.valueFrom?.secretKeyRef?.key).toBe('operator-signing-seed');
    expect(secretFileAt(spec, c, SYSTEM_CREDS_PATH)).toMatchObject({ secretName: 'nats-keys', key: 'sys.creds' });
  });

  it('mints connector credentials without revoking them on the server when natsRevocation is not set', async () => {
    const mintOnly = await render({
      values: { ...CREDS_MODE, licensing: { connectorCredentials: LICENSING_NATS.connectorCredentials } },
    });
    const spec = podSpec(mintOnly, 'licensing');
    const env = resolvedEnv(spec, container(spec), samples);
    expect(Object.keys(env).filter((name) => name.startsWith('LICENSING_NATS_'))).toEqual([
      'LICENSING_NATS_ACCOUNT_PUBLIC_KEY',
      'LICENSING_NATS_ACCOUNT_SIGNING_SEED',
    ]);
    expect(secretVolumes(spec)).toEqual(['nats-services']);
    const parsed = licensingConfigSchema.safeParse(env);
    expect(parsed.success, parsed.error?.message).toBe(true);
  });
});

describe('nats.auth.mode=password and none', () => {
  it('renders exactly as before for values written for the earlier chart (enabled: true, no mode)', async () => {
    const defaults = await helmTemplate();
    const explicit = await helmTemplate({ values: { nats: { auth: { mode: 'password' } } } });
    const earlier = await helmTemplate({ values: { nats: { auth: { enabled: true } } } });
    expect(defaults.exitCode).toBe(0);
    expect(explicit.stdout).toBe(defaults.stdout);
    expect(earlier.stdout).toBe(defaults.stdout);
  });

  it.each(SERVICES)('gives %s the user and password from the Secret and no creds file', async (service) => {
    const rendered = await render();
    const spec = podSpec(rendered, service);
    const env = envOf(container(spec));
    expect(env.get('NATS_USER')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-nats', key: 'NATS_USER' });
    expect(env.get('NATS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-nats', key: 'NATS_PASSWORD' });
    expect(env.has('NATS_CREDS')).toBe(false);
    expect(secretVolumes(spec)).toEqual([]);
  });

  it('treats enabled: false of the earlier chart as mode none', async () => {
    const none = await helmTemplate({ values: { nats: { auth: { mode: 'none' } } } });
    const earlier = await helmTemplate({ values: { nats: { auth: { enabled: false } } } });
    expect(none.exitCode).toBe(0);
    expect(earlier.stdout).toBe(none.stdout);
    const rendered = await render({ values: { nats: { auth: { mode: 'none' } } } });
    for (const service of SERVICES) {
      const env = envOf(container(podSpec(rendered, service)));
      expect(
        ['NATS_USER', 'NATS_PASSWORD', 'NATS_CREDS'].filter((name) => env.has(name)),
        service,
      ).toEqual([]);
      expect(env.has('NATS_URL'), service).toBe(true);
    }
  });
});

describe('NATS settings the chart refuses', () => {
  it.each([
    ['an unknown mode', { nats: { auth: { mode: 'token' } } }, 'nats.auth.mode must be one of the following'],
    [
      'creds mode without a Secret',
      { nats: { auth: { mode: 'creds', credsSecret: '' } } },
      'nats.auth.credsSecret: String length must be greater than or equal to 1',
    ],
    ['a creds key that is no Secret key', { nats: { auth: { credsKey: 'nats/creds' } } }, 'nats.auth.credsKey'],
    [
      'a Secret name that is not a Kubernetes name',
      { licensing: { natsRevocation: { existingSecret: 'NATS_Revocation' } } },
      'licensing.natsRevocation.existingSecret',
    ],
    [
      'an unknown licensing setting',
      { licensing: { connectorCredentials: { accountSeedKey: 'seed' } } },
      'Additional property accountSeedKey is not allowed',
    ],
    [
      'NATS_CREDS set through env',
      { services: { storage: { env: { NATS_CREDS: '/creds' } } } },
      'services.storage.env',
    ],
    [
      'a signing seed in plain values',
      { services: { licensing: { env: { LICENSING_NATS_ACCOUNT_SIGNING_SEED: 'SAABC' } } } },
      'services.licensing.env',
    ],
    [
      'an operator signing seed in plain values',
      { services: { licensing: { env: { LICENSING_NATS_OPERATOR_SIGNING_SEED: 'SOABC' } } } },
      'services.licensing.env',
    ],
  ])('rejects %s with helm’s schema error', async (_, values, message) => {
    const result = await helmTemplate({ values });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(message);
  });

  it.each([
    [
      'enabled: false beside mode creds',
      { nats: { auth: { enabled: false, mode: 'creds' } } },
      'nats.auth: enabled=false (no credentials) contradicts mode=creds',
    ],
    [
      'enabled: true beside mode none',
      { nats: { auth: { enabled: true, mode: 'none' } } },
      'nats.auth: enabled=true contradicts mode=none',
    ],
    [
      'a password beside mode creds',
      { nats: { auth: { ...CREDS_MODE.nats.auth, user: 'services', password: 'secret' } } },
      'nats.auth: user and password are used only with mode=password, not with mode=creds',
    ],
    [
      'password mode without credentials',
      { nats: { auth: { mode: 'password', existingSecret: '' } } },
      'nats.auth: set nats.auth.existingSecret',
    ],
    [
      'connector credentials without creds mode',
      { licensing: { connectorCredentials: { existingSecret: 'nats-connector-signing' } } },
      'licensing.connectorCredentials: connector credentials are user JWTs for a NATS server in operator mode, where the services connect with nats.auth.mode=creds (not password)',
    ],
    [
      'revocation without connector credentials',
      { ...CREDS_MODE, licensing: { natsRevocation: { existingSecret: 'nats-revocation' } } },
      'licensing.natsRevocation: revoking connector credentials needs licensing.connectorCredentials.existingSecret',
    ],
    [
      'the account key and seed under one key',
      {
        ...CREDS_MODE,
        licensing: {
          connectorCredentials: {
            existingSecret: 'nats-keys',
            accountPublicKeyKey: 'key',
            accountSigningSeedKey: 'key',
          },
        },
      },
      'licensing.connectorCredentials: accountPublicKeyKey and accountSigningSeedKey name the same key',
    ],
    [
      'the operator seed and the system creds under one key',
      {
        ...CREDS_MODE,
        licensing: {
          ...LICENSING_NATS,
          natsRevocation: { existingSecret: 'nats-keys', operatorSigningSeedKey: 'key', systemCredsKey: 'key' },
        },
      },
      'licensing.natsRevocation: operatorSigningSeedKey and systemCredsKey name the same key',
    ],
    [
      'creds files in pods without an fsGroup to read them',
      { ...CREDS_MODE, podSecurityContext: { fsGroup: null } },
      'podSecurityContext.fsGroup: the NATS .creds files are mounted with mode 0440',
    ],
  ])('fails on %s with a message that says what to set', async (_, values, message) => {
    const result = await helmTemplate({ values });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});
