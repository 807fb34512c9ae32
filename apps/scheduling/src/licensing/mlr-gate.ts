import { Inject, Injectable } from '@nestjs/common';
import { serviceSubject, tenantMlrStatusSchema } from '@mlr/contracts';
import { PRISMA, type PrismaClient } from '@mlr/db';
import { describeError, requestNestVerb, type MessagingConnection } from '@mlr/messaging';
import { LOGGER, MESSAGING } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';

/*
 * The licensing check of scheduling: no backup or restore job is created for a tenant whose MLR
 * the licensing service does not allow (not enabled, licence expired past grace, feature missing).
 * Kept apart from the dispatch logic, which only asks `check` before it creates a job.
 */

export type MlrVerdict = { allowed: true } | { allowed: false; reason: string; message: string };

/** Backups are refused beyond the licence's protected-mailbox limit; restores still run then. */
export type JobPurpose = 'backup' | 'restore';

export interface MlrGate {
  /** May a job of the tenant run now, and if not, why not (a sentence for the person who asked). */
  check(tenantId: string, purpose?: JobPurpose): Promise<MlrVerdict>;
}

export const MLR_GATE = Symbol('MLR_GATE');

/** How long to wait for the licensing service before deciding from the tenant's recorded flag. */
const STATUS_TIMEOUT_MS = 3_000;

/**
 * Asks licensing `tenants.status` over NATS. The request speaks Nest's NATS packet format
 * (`{pattern, data, id}` → `{response | err}`) on the plain connection rather than through a Nest
 * ClientProxy, because the proxy cannot tell "nobody serves this subject" from a slow answer and
 * would hold every job for its full timeout while licensing is down; NATS says so at once.
 *
 * When licensing cannot answer (down, timed out, an unreadable reply), the tenant's recorded MLR
 * flag decides: a disabled tenant stays refused, and an outage of licensing does not stop the
 * backups of enabled tenants (the licence's expiry is then not checked until it is back).
 */
@Injectable()
export class LicensingMlrGate implements MlrGate {
  private readonly logger: Logger;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'mlr-gate' });
  }

  async check(tenantId: string, purpose: JobPurpose = 'backup'): Promise<MlrVerdict> {
    let unavailable: Record<string, unknown>;
    try {
      const status = await this.askLicensing(tenantId);
      const allowed = purpose === 'backup' ? status.allowed && status.backupAllowed : status.allowed;
      return allowed
        ? { allowed: true }
        : { allowed: false, reason: status.reason ?? 'refused', message: status.message };
    } catch (error) {
      unavailable = describeError(error);
    }
    const tenant = await this.prisma.tenant.findUnique({ where: { id: tenantId }, select: { mlrEnabled: true } });
    this.logger.warn(
      { event: 'licensing.unavailable', tenantId, error: unavailable, mlrEnabled: tenant?.mlrEnabled ?? null },
      'licensing did not answer tenants.status; deciding from the recorded MLR flag',
    );
    if (!tenant) return { allowed: false, reason: 'tenant_not_found', message: `tenant ${tenantId} does not exist` };
    if (!tenant.mlrEnabled) {
      return {
        allowed: false,
        reason: 'mlr_disabled',
        message: `MLR is not enabled for tenant ${tenantId}: an operator must enable it before backup or restore jobs can run`,
      };
    }
    return { allowed: true };
  }

  private async askLicensing(tenantId: string) {
    const subject = serviceSubject('licensing', 'tenants.status');
    return tenantMlrStatusSchema.parse(
      await requestNestVerb(this.messaging.nc, subject, { tenantId }, STATUS_TIMEOUT_MS),
    );
  }
}
