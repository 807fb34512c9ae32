import { tenantCallSubjects } from '@mlr/contracts';
import { RestoreItemsError, type RestoreItemPage, type RestoreItemSource } from '@mlr/connector-core';
import { tenantCallClient, type MessagingConnection } from '@mlr/messaging';

/** Reads the items of a job from scheduling (`restore.items` on `mlr.<tenant>.restore.<job>`). */
export class TenantCallRestoreItemSource implements RestoreItemSource {
  private readonly client;
  private readonly subject;

  constructor(
    connection: MessagingConnection,
    private readonly tenantId: string,
    private readonly jobId: string,
    private readonly options: { timeoutMs?: number } = {},
  ) {
    this.client = tenantCallClient(connection);
    this.subject = tenantCallSubjects['restore.items'](tenantId, jobId);
  }

  async page(after: number, limit: number): Promise<RestoreItemPage> {
    const reply = await this.client.request(
      'restore.items',
      this.subject,
      { tenantId: this.tenantId, jobId: this.jobId, after, limit },
      { timeoutMs: this.options.timeoutMs ?? 30_000 },
    );
    if (!reply.ok) {
      throw new RestoreItemsError(
        `cannot read the items of restore job ${this.jobId} (after seq ${after}): ${reply.error.code}: ${reply.error.message}`,
      );
    }
    return reply.value;
  }
}
