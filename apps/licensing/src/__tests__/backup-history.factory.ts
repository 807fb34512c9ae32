import { randomBytes } from 'node:crypto';
import type { JobState, PrismaClient } from '@mlr/db';

const DAY_MS = 86_400_000;
const daysAgo = (days: number, now: Date) => new Date(now.getTime() - days * DAY_MS);

export type MailboxSelection = 'all' | string[];

/**
 * Writes the backup history scheduling records for a connector, as it records it from the
 * connector's job events: folder checkpoints and finished backup jobs (with their command and any
 * mailbox-level errors). For tests of what counts as a protected mailbox.
 */
export class BackupHistory {
  private constructor(
    private readonly prisma: PrismaClient,
    readonly tenantId: string,
    readonly connectorId: string,
    private readonly now: Date,
  ) {}

  /** A new IMAP connector of `tenantId`; times are counted back from `now`. */
  static async forNewConnector(prisma: PrismaClient, tenantId: string, now = new Date()): Promise<BackupHistory> {
    const connector = await prisma.connector.create({
      data: { tenantId, name: `history-${randomBytes(4).toString('hex')}`, kind: 'imap' },
    });
    return new BackupHistory(prisma, tenantId, connector.id, now);
  }

  /** The checkpoint of a folder, last advanced `advancedDaysAgo` days ago. */
  async checkpoint(mailbox: string, folder: string, advancedDaysAgo: number): Promise<void> {
    await this.prisma.folderCheckpoint.create({
      data: { tenantId: this.tenantId, connectorId: this.connectorId, mailbox, folder, uidValidity: 1n, lastUid: 10n },
    });
    await this.prisma.$executeRaw`UPDATE folder_checkpoints SET updated_at = ${daysAgo(advancedDaysAgo, this.now)}
      WHERE connector_id = ${this.connectorId} AND mailbox = ${mailbox} AND folder = ${folder}`;
  }

  /**
   * A backup job of the connector that finished `finishedDaysAgo` days ago; `mailboxErrors` are
   * the mailboxes it reported it could not back up. `selection: null` is a job the connector
   * started from its command line (the platform never saw its command).
   */
  async backupJob(
    selection: MailboxSelection | null,
    finishedDaysAgo: number,
    options: { state?: JobState; mailboxErrors?: string[]; kind?: 'backup' | 'restore' } = {},
  ): Promise<string> {
    const finishedAt = daysAgo(finishedDaysAgo, this.now);
    const kind = options.kind ?? 'backup';
    const state = options.state ?? 'succeeded';
    const request =
      selection === null
        ? { kind, origin: 'connector-cli' }
        : {
            kind,
            tenantId: this.tenantId,
            connectorId: this.connectorId,
            requestedAt: finishedAt.toISOString(),
            requestedBy: 'schedule',
            mailboxes: selection === 'all' ? { kind: 'all' } : { kind: 'list', mailboxes: selection },
            filter: {},
            full: false,
            checkpoints: [],
          };
    const job = await this.prisma.job.create({
      data: {
        tenantId: this.tenantId,
        connectorId: this.connectorId,
        kind,
        state,
        request,
        requestedBy: selection === null ? 'connector-cli' : 'schedule',
        createdAt: new Date(finishedAt.getTime() - 60_000),
        startedAt: new Date(finishedAt.getTime() - 50_000),
        finishedAt: state === 'running' || state === 'queued' ? null : finishedAt,
      },
    });
    for (const mailbox of options.mailboxErrors ?? []) {
      await this.prisma.jobItemError.create({
        data: {
          jobId: job.id,
          tenantId: this.tenantId,
          scope: 'mailbox',
          mailbox,
          target: mailbox,
          message: `IMAP login for mailbox ${mailbox} failed: authentication failed`,
          at: finishedAt,
        },
      });
    }
    return job.id;
  }
}
