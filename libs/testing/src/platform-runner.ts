import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinishedJobState, type AccessTokenClaimsInput } from '@mlr/contracts';
import { mintAccessToken } from './access-tokens.js';
import type { LocalInfrastructure } from './infra/local-infrastructure.js';
import { startApp, type RunningApp } from './platform.js';
import { PLATFORM_SERVICES, type PlatformService } from './service-env.js';

export interface JobView {
  id: string;
  state: string;
  counters: {
    seen: number;
    new: number;
    deduplicated: number;
    bytes: number;
    failed: number;
    restored: number;
    skipped: number;
  };
  errorCount: number;
  errors?: Array<{ scope: string; target: string; message: string }>;
  /** Why the job is stalled, while it is. */
  stalledReason?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

/**
 * The platform's processes (cloud services and a connector) on a local infrastructure, driven
 * through the gateway's HTTP API: for end-to-end tests, the demo and benchmarks.
 */
export class PlatformRunner {
  readonly apps = new Map<string, RunningApp>();

  constructor(
    readonly infra: LocalInfrastructure,
    readonly logDir: string,
  ) {}

  async startServices(services: readonly PlatformService[]): Promise<void> {
    const started = await Promise.all(
      services.map((app) => startApp({ app, env: this.infra.serviceEnv, logDir: join(this.logDir, app) })),
    );
    for (const app of started) this.apps.set(app.name, app);
  }

  /** Every cloud service; the gateway last, since it is healthy only when the others answer. */
  async startPlatform(): Promise<void> {
    await this.startServices(PLATFORM_SERVICES.filter((service) => service !== 'gateway'));
    await this.startServices(['gateway']);
  }

  /**
   * Starts another process of `service` beside the running one, as a cluster runs replicas (they
   * share the service's durable consumers); `name` (e.g. `storage-2`) is how `app`, `restart` and
   * `stop` know it.
   */
  async startReplica(service: PlatformService, name: string): Promise<RunningApp> {
    const app = await startApp({ app: service, env: this.infra.serviceEnv, logDir: join(this.logDir, name) });
    this.apps.set(name, app);
    return app;
  }

  /** Starts `service` again under `name` (a replica's name, or the service's own). */
  async restart(service: PlatformService, name: string = service): Promise<void> {
    const logDir = join(this.logDir, `${name}-${Date.now()}`);
    this.apps.set(name, await startApp({ app: service, env: this.infra.serviceEnv, logDir }));
  }

  /** `name`: under which the runner keeps it (several connectors, one per tenant, need their own). */
  async startConnector(configFile: string, healthPort: number, name = 'connector'): Promise<RunningApp> {
    const connector = await startApp({
      app: 'connector',
      args: ['run', '--config', configFile],
      env: {},
      logDir: join(this.logDir, name),
      port: healthPort,
    });
    this.apps.set(name, connector);
    return connector;
  }

  app(name: string): RunningApp {
    const app = this.apps.get(name);
    if (!app) throw new Error(`${name} is not running`);
    return app;
  }

  /**
   * Who the runner acts as when a call does not say: a tenant admin of the tenant in the path for
   * the tenant's own routes (plans, jobs, search, restores, audit; the fixtures' connectors have
   * "Receive As"), an operator for the rest (licence, tenants, MLR enablement, usage).
   */
  static defaultPrincipal(path: string): AccessTokenClaimsInput {
    const tenant = /^\/v1\/tenants\/([a-z0-9][a-z0-9-]*)\/(?!mlr\/)/.exec(path)?.[1];
    return tenant
      ? { sub: 'admin@platform-runner', role: 'tenant_admin', tenant }
      : { sub: 'operator@platform-runner', role: 'operator' };
  }

  /** A token of the local issuer for `claims`. */
  token(claims: AccessTokenClaimsInput): Promise<string> {
    return mintAccessToken(this.infra.tokens, claims);
  }

  async http<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { as?: AccessTokenClaimsInput; token?: string | null } = {},
  ): Promise<{ status: number; body: T }> {
    const token =
      options.token === undefined
        ? await this.token(options.as ?? PlatformRunner.defaultPrincipal(path))
        : options.token;
    const response = await fetch(`http://127.0.0.1:${this.app('gateway').port}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async createPlan(tenantId: string, plan: Record<string, unknown>): Promise<string> {
    const { status, body } = await this.http<{ id?: string }>('POST', `/v1/tenants/${tenantId}/plans`, plan);
    if (status !== 201 || !body.id) throw new Error(`create plan: HTTP ${status} ${JSON.stringify(body)}`);
    return body.id;
  }

  /** Runs a plan now through the gateway; returns the job id. */
  async runPlan(tenantId: string, planId: string): Promise<string> {
    const { status, body } = await this.http<{ jobId?: string; id?: string }>(
      'POST',
      `/v1/tenants/${tenantId}/plans/${planId}/run`,
      {},
    );
    const jobId = body?.jobId ?? body?.id;
    if (status >= 300 || !jobId) throw new Error(`run plan: HTTP ${status} ${JSON.stringify(body)}`);
    return jobId;
  }

  /**
   * Asks for a restore (or export) job through the gateway (`POST /v1/tenants/:t/restores`, as the
   * default principal unless `as`); returns the accepted job, and throws on anything but 202.
   */
  async restore(
    tenantId: string,
    request: Record<string, unknown>,
    options: { as?: AccessTokenClaimsInput } = {},
  ): Promise<{ jobId: string; itemCount: number }> {
    const { status, body } = await this.http<{ jobId: string; itemCount: number }>(
      'POST',
      `/v1/tenants/${tenantId}/restores`,
      request,
      options,
    );
    if (status !== 202) throw new Error(`restore: HTTP ${status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Polls the job through the gateway until it has finished. */
  async waitForJob(
    tenantId: string,
    jobId: string,
    options: { timeoutMs?: number; onPoll?: (job: JobView) => void; pollMs?: number } = {},
  ): Promise<JobView> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    let last: JobView | undefined;
    while (Date.now() < deadline) {
      const { status, body } = await this.http<JobView>('GET', `/v1/tenants/${tenantId}/jobs/${jobId}`);
      if (status === 200) {
        last = body;
        options.onPoll?.(body);
        if (isFinishedJobState(body.state)) return body;
      }
      await sleep(options.pollMs ?? 250);
    }
    throw new Error(`job ${jobId} did not finish in time; last seen: ${JSON.stringify(last)}`);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.apps.values()].map((app) => app.stop()));
  }
}
