import { Inject, Injectable } from '@nestjs/common';
import { PROTECTED_WINDOW_DAYS, type UsageReport, type UsageRow } from '@mlr/contracts';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, type Clock } from '../common/clock.js';
import type { LicenceRecord } from '../licences/licence.js';
import { LICENCE_REPOSITORY, type LicenceRepository } from '../licences/licences.repository.js';
import { tenantNotFound } from '../tenants/tenants.service.js';
import { USAGE_REPOSITORY, type UsageRepository } from './usage.repository.js';

/**
 * Metered usage for billing and the licence limits. Every computed report is also kept as usage
 * samples (one per tenant), so the samples are exactly the numbers operators and billing saw; a
 * periodic sample is a scheduled call of this report (e.g. a Kubernetes CronJob on GET /v1/usage).
 */
@Injectable()
export class UsageService {
  private readonly logger: Logger;

  constructor(
    @Inject(USAGE_REPOSITORY) private readonly usage: UsageRepository,
    @Inject(LICENCE_REPOSITORY) private readonly licences: LicenceRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ scope: 'usage' });
  }

  async report(tenantId: string | undefined): Promise<UsageReport> {
    const now = this.clock.now();
    const rows = await this.usage.measure(now, tenantId);
    if (tenantId !== undefined && rows.length === 0) throw tenantNotFound(tenantId);
    await this.usage.recordSamples(rows, now);
    const { licence, problem } = await this.licences.current();
    if (problem) {
      this.logger.warn({ event: 'licence.unverified', detail: problem }, 'the stored licence does not verify');
    }
    const totals = summarise(rows);
    return {
      generatedAt: now.toISOString(),
      // A mailbox counts as protected while it was backed up this many days back (as the licence counts).
      windowDays: PROTECTED_WINDOW_DAYS,
      tenants: rows,
      totals,
      limits: licence ? { maxTenants: licence.maxTenants, maxProtectedMailboxes: licence.maxProtectedMailboxes } : null,
      // Limits are about the whole MSP: a one-tenant report cannot say whether they are exceeded.
      // Without a licence that verifies no limit applies, which the operator must not miss.
      warnings: [
        ...(problem ? [`no licence limits apply: no valid licence is in force: ${problem}`] : []),
        ...(licence && tenantId === undefined ? limitWarnings(licence, rows) : []),
      ],
    };
  }
}

export function summarise(rows: UsageRow[]): UsageReport['totals'] {
  const mlr = rows.filter((row) => row.mlrEnabled);
  return {
    tenants: rows.length,
    mlrTenants: mlr.length,
    protectedMailboxes: rows.reduce((sum, row) => sum + row.protectedMailboxes, 0),
    storedObjects: rows.reduce((sum, row) => sum + row.storedObjects, 0),
    storedBytes: rows.reduce((sum, row) => sum + row.storedBytes, 0),
  };
}

/**
 * The licence limits the MSP exceeds, in words (e.g. after a renewal with lower limits). Protected
 * mailboxes count over the tenants with MLR enabled, as the licence limits them.
 */
export function limitWarnings(licence: LicenceRecord, rows: UsageRow[]): string[] {
  const totals = summarise(rows);
  const protectedMailboxes = rows.filter((row) => row.mlrEnabled).reduce((sum, row) => sum + row.protectedMailboxes, 0);
  const warnings: string[] = [];
  if (totals.tenants > licence.maxTenants) {
    warnings.push(`${totals.tenants} tenants exceed the licence limit of ${licence.maxTenants}`);
  }
  if (totals.mlrTenants > licence.maxTenants) {
    warnings.push(`${totals.mlrTenants} tenants with MLR enabled exceed the licence limit of ${licence.maxTenants}`);
  }
  if (protectedMailboxes > licence.maxProtectedMailboxes) {
    warnings.push(
      `${protectedMailboxes} protected mailboxes of tenants with MLR enabled exceed the licence limit of ${licence.maxProtectedMailboxes}`,
    );
  }
  return warnings;
}
