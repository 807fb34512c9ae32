import { licensingCallSchemas, serviceSubject, type ObjectLayout } from '@mlr/contracts';
import { refusalCode, requestNestVerb } from '@mlr/messaging';
import type { NatsConnection } from '@nats-io/nats-core';

/** How storage learns a tenant's object layout (and default retention): licensing owns tenants, storage asks it. */
export interface TenantLayouts {
  /**
   * The tenant's layout, or null when licensing says there is no such tenant. Throws
   * `TenantLayoutUnavailable` when licensing cannot say and storage has never heard the answer:
   * the batch is then held and delivered again, never refused for an outage.
   */
  layoutOf(tenantId: string): Promise<ObjectLayout | null>;
}

export class TenantLayoutUnavailable extends Error {
  constructor(tenantId: string, cause: unknown) {
    super(`licensing cannot say tenant ${tenantId}'s object layout (${(cause as Error).message}); the batch waits`);
    this.name = 'TenantLayoutUnavailable';
  }
}

export interface LicensingTenantLayoutsOptions {
  /** How long an answer is used before licensing is asked again. Default 60 s. */
  freshForMs?: number;
  /** How long one request may take. Default 5 s. */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Asks licensing `tenants.get` and keeps each answer for `freshForMs`: a layout changes rarely, and
 * a batch written in the old layout after a change is still read correctly (every object has its
 * locator). While licensing is unreachable the last answer heard stays in use, however old.
 */
export class LicensingTenantLayouts implements TenantLayouts {
  private readonly known = new Map<
    string,
    { layout: ObjectLayout; objectRetentionDays: number | null; heardAt: number }
  >();
  private readonly freshForMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly nc: NatsConnection,
    options: LicensingTenantLayoutsOptions = {},
  ) {
    this.freshForMs = options.freshForMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async layoutOf(tenantId: string): Promise<ObjectLayout | null> {
    const known = this.known.get(tenantId);
    if (known && this.now() - known.heardAt < this.freshForMs) return known.layout;
    let answer: unknown;
    try {
      answer = await requestNestVerb(this.nc, serviceSubject('licensing', 'tenants.get'), { tenantId }, this.timeoutMs);
    } catch (error) {
      if (refusalCode(error) === 'not_found') {
        this.known.delete(tenantId);
        return null;
      }
      if (known) return known.layout;
      throw new TenantLayoutUnavailable(tenantId, error);
    }
    const parsed = licensingCallSchemas['tenants.get'].response.safeParse(answer);
    if (!parsed.success) {
      if (known) return known.layout;
      throw new TenantLayoutUnavailable(tenantId, new Error(`unreadable answer: ${parsed.error.message}`));
    }
    this.known.set(tenantId, {
      layout: parsed.data.objectLayout,
      objectRetentionDays: parsed.data.objectRetentionDays,
      heardAt: this.now(),
    });
    return parsed.data.objectLayout;
  }

  /**
   * The tenant's default Object Lock retention in days as licensing last said (null: none set),
   * heard with its layout — so known for every tenant whose batch `layoutOf` let through; undefined
   * for one never heard of.
   */
  retentionDaysOf(tenantId: string): number | null | undefined {
    return this.known.get(tenantId)?.objectRetentionDays;
  }
}
