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

/** How long to wait for the licensing service before deciding from its last answer. */
const STATUS_TIMEOUT_MS = 3_000;

/**
 * Asks licensing `tenants.status` over NATS. The request speaks Nest's NATS packet format
 * (`{pattern, data, id}` → `{response | err}`) on the plain connection rather than through a Nest
 * ClientProxy, because the proxy cannot tell "nobody serves this subject" from a slow answer and
 * would hold every job for its full timeout while licensing is down; NATS says so at once.
 *
 * When licensing cannot answer (down, timed out, an unreadable reply), its last answer about the
 * tenant's MLR flag decides (scheduling keeps it in its own `tenant_mlr_verdicts`; tenants are
 * licensing's): a tenant it called disabled stays refused, and an outage of licensing does not stop
 * the backups of tenants it called enabled (the licence's expiry is then not checked until it is
 * back). A tenant licensing never answered for is refused until it does.
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
      await this.remember(tenantId, status.reason === 'tenant_not_found' ? null : status.mlrEnabled);
      const allowed = purpose === 'backup' ? status.allowed && status.backupAllowed : status.allowed;
      return allowed
        ? { allowed: true }
        : { allowed: false, reason: status.reason ?? 'refused', message: status.message };
    } catch (error) {
      unavailable = describeError(error);
    }
    const heard = await this.prisma.tenantMlrVerdict.findUnique({ where: { tenantId } });
    this.logger.warn(
      {
        event: 'licensing.unavailable',
        tenantId,
        error: unavailable,
        mlrEnabled: heard?.mlrEnabled ?? null,
        heardAt: heard?.heardAt.toISOString() ?? null,
      },
      "licensing did not answer tenants.status; deciding from its last answer about the tenant's MLR flag",
    );
    if (!heard) {
      return {
        allowed: false,
        reason: 'licensing_unavailable',
        message: `licensing cannot be reached and has not yet said whether MLR is enabled for tenant ${tenantId}: no job runs until it answers`,
      };
    }
    if (!heard.mlrEnabled) {
      return {
        allowed: false,
        reason: 'mlr_disabled',
        message: `MLR is not enabled for tenant ${tenantId}: an operator must enable it before backup or restore jobs can run`,
      };
    }
    return { allowed: true };
  }

  /**
   * Keeps licensing's answer about the tenant's flag (null: no such tenant, forget it). Written only
   * when it changes; a failure to write is logged and does not change the verdict.
   */
  private async remember(tenantId: string, mlrEnabled: boolean | null): Promise<void> {
    try {
      if (mlrEnabled === null) {
        await this.prisma.tenantMlrVerdict.deleteMany({ where: { tenantId } });
        return;
      }
      await this.prisma.$executeRaw`
        INSERT INTO tenant_mlr_verdicts (tenant_id, mlr_enabled, heard_at) VALUES (${tenantId}, ${mlrEnabled}, now())
        ON CONFLICT (tenant_id) DO UPDATE SET mlr_enabled = EXCLUDED.mlr_enabled, heard_at = EXCLUDED.heard_at
        WHERE tenant_mlr_verdicts.mlr_enabled IS DISTINCT FROM EXCLUDED.mlr_enabled`;
    } catch (error) {
      this.logger.warn(
        { event: 'mlr-verdict.unrecorded', tenantId, error: describeError(error) },
        "licensing's answer could not be kept for an outage; the last one kept stays",
      );
    }
  }

  private async askLicensing(tenantId: string) {
    const subject = serviceSubject('licensing', 'tenants.status');
    return tenantMlrStatusSchema.parse(
      await requestNestVerb(this.messaging.nc, subject, { tenantId }, STATUS_TIMEOUT_MS),
    );
  }
}
