import type { FolderCheckpoint, JobCommand } from '@mlr/contracts';
import type { PlanRecord } from '../plans/plan.js';

export type BackupCommand = Extract<JobCommand, { kind: 'backup' }>;

/** Who asked for a job: the scheduler's own ticks are `schedule`. */
export const SCHEDULE_REQUESTER = 'schedule';
/** Jobs a connector started by itself (one-off CLI backups) and reported through events. */
export const CONNECTOR_CLI_REQUESTER = 'connector-cli';

/**
 * The command for one backup run of a plan. An incremental run carries the connector's committed
 * checkpoints of the selected mailboxes; a full one carries none, since it rescans every folder.
 */
export function buildBackupCommand(input: {
  jobId: string;
  plan: Pick<PlanRecord, 'tenantId' | 'connectorId' | 'mailboxes' | 'filter'>;
  checkpoints: FolderCheckpoint[];
  requestedAt: Date;
  requestedBy: string;
  full: boolean;
}): BackupCommand {
  return {
    kind: 'backup',
    jobId: input.jobId,
    tenantId: input.plan.tenantId,
    connectorId: input.plan.connectorId,
    requestedAt: input.requestedAt.toISOString(),
    requestedBy: input.requestedBy,
    mailboxes: input.plan.mailboxes,
    filter: input.plan.filter,
    full: input.full,
    checkpoints: input.full ? [] : input.checkpoints,
  };
}
