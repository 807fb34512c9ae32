import { randomBytes, randomUUID } from 'node:crypto';
import { pgQuery } from './scratch-database.js';

const DAY_MS = 86_400_000;
const daysAgo = (days: number, now: Date) => new Date(now.getTime() - days * DAY_MS);

export type MailboxSelection = 'all' | string[];

/**
 * Writes the backup history scheduling records for a connector, as it records it from the
 * connector's job events: folder checkpoints and finished backup jobs (with their command and any
 * mailbox-level errors). For tests of what counts as a protected mailbox, in scheduling (which owns
 * these tables) and in licensing (which asks scheduling). Written as the owner role (`databaseUrl`
 * is the test fixtures' URL), with plain SQL: the harness is shared by every app's tests.
 */
export class BackupHistory {
  private constructor(
    private readonly databaseUrl: string,
    readonly tenantId: string,
    readonly connectorId: string,
    private readonly now: Date,
  ) {}

  /** A new IMAP connector of `tenantId`; times are counted back from `now`. */
  static async forNewConnector(databaseUrl: string, tenantId: string, now = new Date()): Promise<BackupHistory> {
    const connectorId = randomUUID();
    await pgQuery(
      databaseUrl,
      `INSERT INTO connectors (id, tenant_id, name, kind, updated_at) VALUES ($1, $2, $3, 'imap', now())`,
      [connectorId, tenantId, `history-${randomBytes(4).toString('hex')}`],
    );
    return new BackupHistory(databaseUrl, tenantId, connectorId, now);
  }

  /** The checkpoint of a folder, last advanced `advancedDaysAgo` days ago. */
  async checkpoint(mailbox: string, folder: string, advancedDaysAgo: number): Promise<void> {
    await pgQuery(
      this.databaseUrl,
      `INSERT INTO folder_checkpoints (id, tenant_id, connector_id, mailbox, folder, source, cursor_version, epoch, position, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'imap', 1, '1', 10, $6)`,
      [randomUUID(), this.tenantId, this.connectorId, mailbox, folder, daysAgo(advancedDaysAgo, this.now)],
    );
  }

  /**
   * A backup job of the connector that finished `finishedDaysAgo` days ago; `mailboxErrors` are
   * the mailboxes it reported it could not back up. `selection: null` is a job the connector
   * started from its command line (the platform never saw its command).
   */
  async backupJob(
    selection: MailboxSelection | null,
    finishedDaysAgo: number,
    options: {
      state?: 'succeeded' | 'partially_failed' | 'failed' | 'running' | 'queued';
      mailboxErrors?: string[];
      kind?: 'backup' | 'restore';
    } = {},
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
    const jobId = randomUUID();
    await pgQuery(
      this.databaseUrl,
      `INSERT INTO jobs (id, tenant_id, connector_id, kind, state, request, requested_by, created_at, started_at,
         finished_at, updated_at)
       VALUES ($1, $2, $3, $4::job_kind, $5::job_state, $6, $7, $8, $9, $10, now())`,
      [
        jobId,
        this.tenantId,
        this.connectorId,
        kind,
        state,
        JSON.stringify(request),
        selection === null ? 'connector-cli' : 'schedule',
        new Date(finishedAt.getTime() - 60_000),
        new Date(finishedAt.getTime() - 50_000),
        state === 'running' || state === 'queued' ? null : finishedAt,
      ],
    );
    for (const mailbox of options.mailboxErrors ?? []) {
      await pgQuery(
        this.databaseUrl,
        `INSERT INTO job_item_errors (job_id, tenant_id, scope, mailbox, target, message, at)
         VALUES ($1, $2, 'mailbox', $3, $3, $4, $5)`,
        [jobId, this.tenantId, mailbox, `IMAP login for mailbox ${mailbox} failed: authentication failed`, finishedAt],
      );
    }
    return jobId;
  }
}
