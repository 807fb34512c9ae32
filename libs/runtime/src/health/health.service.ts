import { Inject, Injectable } from '@nestjs/common';
import type { HealthReport, ServiceName } from '@mlr/contracts';

/** One dependency check: resolves when the dependency answers, throws (with a reason) when not. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
export const SERVICE_IDENTITY = Symbol('SERVICE_IDENTITY');

export interface ServiceIdentity {
  service: ServiceName;
  instance: string;
}

const CHECK_TIMEOUT_MS = 3_000;

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();

  constructor(
    @Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[],
    @Inject(SERVICE_IDENTITY) private readonly identity: ServiceIdentity,
  ) {}

  async report(): Promise<HealthReport> {
    const results = await Promise.all(
      this.checks.map(async ({ name, check }) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
            }),
          ]);
          return [name, { ok: true }] as const;
        } catch (error) {
          return [name, { ok: false, detail: error instanceof Error ? error.message : String(error) }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(results);
    return {
      service: this.identity.service,
      instance: this.identity.instance,
      status: results.every(([, r]) => r.ok) ? 'ok' : 'down',
      checks,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }
}
