/**
 * Reading rendered pods the way Kubernetes would run them: the containers of a Deployment, their
 * environment with Secret values filled in, and the files they read from mounted Secrets.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { createAccount, createOperator, createUser, encodeUser, fmtCreds } from '@nats-io/jwt';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { byKind, objectName, REPO_ROOT, type RenderedManifest, type ServiceName } from './render.js';

export type EnvEntry = NonNullable<IContainer['env']>[number];

export function container(spec: IPodSpec | undefined, name?: string): IContainer {
  const found = spec?.containers.find((c) => name === undefined || c.name === name);
  if (!found) throw new Error(`no container ${name ?? ''} in pod spec`);
  return found;
}

export function envOf(c: IContainer): Map<string, EnvEntry> {
  return new Map((c.env ?? []).map((entry) => [entry.name, entry]));
}

export function deploymentOf(rendered: RenderedManifest[], release: string, service: ServiceName): IDeployment {
  const deployment = byKind<IDeployment>(rendered, 'Deployment').get(objectName(release, service));
  if (!deployment) throw new Error(`no Deployment for ${service}`);
  return deployment;
}

/** What a container reads at `path` from a mounted Secret: which Secret and key, and the volume's mode. */
export interface SecretFile {
  secretName: string;
  key: string;
  mode: number | undefined;
  readOnly: boolean;
}

/**
 * The Secret key that a container sees at `path`, following its volume mounts into the pod's secret
 * volumes (one projected item per file); undefined when no mounted Secret provides that file.
 */
export function secretFileAt(spec: IPodSpec | undefined, c: IContainer, path: string): SecretFile | undefined {
  for (const mount of c.volumeMounts ?? []) {
    const relative = posix.relative(mount.mountPath, path);
    if (relative === '' || relative.startsWith('..') || posix.isAbsolute(relative)) continue;
    const secret = spec?.volumes?.find((v) => v.name === mount.name)?.secret;
    const item = secret?.items?.find((i) => i.path === relative);
    if (!secret?.secretName || !item) continue;
    return {
      secretName: secret.secretName,
      key: item.key,
      mode: item.mode ?? secret.defaultMode,
      readOnly: mount.readOnly === true,
    };
  }
  return undefined;
}

/** A user's `.creds` file (user JWT + seed), issued by a fresh account, as `nsc generate creds` writes it. */
async function credsFile(name: string): Promise<string> {
  const user = createUser();
  const jwt = await encodeUser(name, user, createAccount());
  return new TextDecoder().decode(fmtCreds(jwt, user));
}

/**
 * Stand-ins for Secret contents: values of secretKeyRef variables, and files variables point at
 * (written below `scratchDir` when used; removeSamples deletes them).
 */
export interface Samples {
  secretValues: Record<string, string>;
  secretFiles: Record<string, string>;
  scratchDir: string;
}

export async function makeSamples(): Promise<Samples> {
  const seed = (pair: { getSeed(): Uint8Array }) => new TextDecoder().decode(pair.getSeed());
  const base = join(REPO_ROOT, 'tmp', 'chart-tests');
  mkdirSync(base, { recursive: true });
  return {
    scratchDir: mkdtempSync(join(base, 'files-')),
    secretValues: {
      AUTH_JWT_PUBLIC_KEY: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      AUTH_JWT_ISSUER: 'https://login.example.com/realms/msp',
      DATABASE_URL: 'postgresql://mlr:secret@postgres:5432/mlr',
      NATS_USER: 'services',
      NATS_PASSWORD: 'secret',
      S3_ACCESS_KEY: 'access',
      S3_SECRET_KEY: 'secret',
      LICENSING_NATS_ACCOUNT_PUBLIC_KEY: createAccount().getPublicKey(),
      LICENSING_NATS_ACCOUNT_SIGNING_SEED: seed(createAccount()),
      LICENSING_NATS_OPERATOR_SIGNING_SEED: seed(createOperator()),
    },
    secretFiles: {
      NATS_CREDS: await credsFile('services'),
      LICENSING_NATS_SYSTEM_CREDS: await credsFile('system'),
    },
  };
}

export function removeSamples(samples: Samples): void {
  rmSync(samples.scratchDir, { recursive: true, force: true });
}

/**
 * The environment a container would see, with samples for Secret and downward-API values. A value
 * that is the path of a file from a mounted Secret is replaced by a scratch file with that sample's
 * content (the services read such files while validating their configuration); a path into no
 * mounted Secret is left as it is, so the service's own check fails as it would in the pod.
 */
export function resolvedEnv(spec: IPodSpec | undefined, c: IContainer, samples: Samples): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of c.env ?? []) {
    if (entry.value !== undefined) {
      const file = entry.value.startsWith('/') ? secretFileAt(spec, c, entry.value) : undefined;
      if (!file) {
        env[entry.name] = entry.value;
        continue;
      }
      const content = samples.secretFiles[entry.name];
      if (content === undefined) throw new Error(`${entry.name}: no sample for the file ${entry.value}`);
      const local = join(samples.scratchDir, entry.value);
      mkdirSync(dirname(local), { recursive: true });
      writeFileSync(local, content);
      env[entry.name] = local;
    } else if (entry.valueFrom?.fieldRef) env[entry.name] = 'pod-name-7d9f8';
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = samples.secretValues[entry.name] ?? 'secret-value';
    else throw new Error(`${entry.name}: unexpected env source`);
  }
  return env;
}
