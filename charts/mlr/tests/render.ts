/**
 * Renders the chart with the real helm and checks every manifest against the Kubernetes API schemas
 * (kubernetes-models' precompiled validators).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { CHART_DIR, REPO_ROOT, runHelm, type HelmResult } from './helm-binary.js';

export { CHART_DIR, REPO_ROOT, runHelm };

/** The cloud services, each with one Deployment; the connector runs on customer sites. */
export const SERVICES = ['licensing', 'scheduling', 'indexing', 'storage', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The chart's name for a component's objects (`<release>-mlr-<component>`, or `<release>-<component>`
 * when the release name already contains `mlr`). */
export function objectName(release: string, component: string): string {
  return `${release.includes('mlr') ? release : `${release}-mlr`}-${component}`;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** One rendered document with the template it came from. */
export interface RenderedManifest {
  source: string;
  manifest: Manifest;
}

interface Validatable {
  validate(): void;
}

/** Kinds the chart may render, with the API schema each is checked against. */
const VALIDATORS: Record<string, (manifest: Manifest) => Validatable> = {
  'apps/v1/Deployment': (m) => new Deployment(m as never),
  'v1/Service': (m) => new Service(m as never),
  'v1/ServiceAccount': (m) => new ServiceAccount(m as never),
  'v1/Secret': (m) => new Secret(m as never),
  'v1/Pod': (m) => new Pod(m as never),
  'batch/v1/Job': (m) => new Job(m as never),
  'batch/v1/CronJob': (m) => new CronJob(m as never),
  'autoscaling/v2/HorizontalPodAutoscaler': (m) => new HorizontalPodAutoscaler(m as never),
  'policy/v1/PodDisruptionBudget': (m) => new PodDisruptionBudget(m as never),
  'networking.k8s.io/v1/Ingress': (m) => new Ingress(m as never),
};

/** Custom resources kubernetes-models has no schema for; their tests assert the fields instead. */
const CUSTOM_RESOURCES = new Set(['monitoring.coreos.com/v1/ServiceMonitor']);

/** Throws, naming the manifest, when it does not match the Kubernetes API schema of its kind. */
export function validateManifest({ source, manifest }: RenderedManifest): void {
  const type = `${manifest.apiVersion}/${manifest.kind}`;
  if (CUSTOM_RESOURCES.has(type)) return;
  const validator = VALIDATORS[type];
  if (!validator) throw new Error(`${source}: ${type} has no validator here; add one to charts/mlr/tests/render.ts`);
  try {
    validator(manifest).validate();
  } catch (error) {
    throw new Error(
      `${source}: ${type} ${manifest.metadata.name} is invalid: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files inside the repository, e.g. charts/mlr/ci/production-values.yaml. */
  valuesFiles?: string[];
  /** Values given inline, applied after the files (as another `-f`). */
  values?: Record<string, unknown>;
}

/** Runs `helm template`; a non-zero exit is returned, not thrown, so that failures can be asserted. */
export async function helmTemplate(options: RenderOptions = {}): Promise<HelmResult> {
  const args = ['template', options.release ?? 'rel', CHART_DIR, '--namespace', options.namespace ?? 'mlr'];
  for (const file of options.valuesFiles ?? []) args.push('--values', join(REPO_ROOT, file));
  let scratch: string | undefined;
  if (options.values) {
    const base = join(REPO_ROOT, 'tmp', 'chart-tests');
    mkdirSync(base, { recursive: true });
    scratch = mkdtempSync(join(base, 'values-'));
    const file = join(scratch, 'values.json');
    // JSON is YAML: helm reads it as a values file.
    writeFileSync(file, JSON.stringify(options.values));
    args.push('--values', file);
  }
  try {
    return await runHelm(args);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Renders the chart and parses every document; throws with helm's message when rendering fails. */
export async function render(options: RenderOptions = {}): Promise<RenderedManifest[]> {
  const result = await helmTemplate(options);
  if (result.exitCode !== 0) throw new Error(`helm template failed (${result.exitCode}): ${result.stderr}`);
  const rendered: RenderedManifest[] = [];
  for (const document of parseAllDocuments(result.stdout)) {
    if (document.errors.length > 0) {
      throw new Error(`helm rendered invalid YAML: ${document.errors.map((e) => e.message).join('; ')}`);
    }
    const manifest = document.toJS() as Manifest | null;
    if (manifest === null) continue;
    const comment = `${document.commentBefore ?? ''}\n${document.contents?.commentBefore ?? ''}`;
    const sourceComment = /Source: (\S+)/.exec(comment);
    rendered.push({ source: sourceComment?.[1] ?? '(unknown template)', manifest });
  }
  return rendered;
}

/** The manifests of one kind, by name; throws when a name is not unique. */
export function byKind<T = Manifest>(rendered: RenderedManifest[], kind: string): Map<string, T> {
  const found = new Map<string, T>();
  for (const { manifest } of rendered) {
    if (manifest.kind !== kind) continue;
    if (found.has(manifest.metadata.name)) throw new Error(`${kind} ${manifest.metadata.name} rendered twice`);
    found.set(manifest.metadata.name, manifest as T);
  }
  return found;
}
