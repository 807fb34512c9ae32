import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type {
  JobItemList,
  ResolvedRecord,
  RestoreAccepted,
  RestoreItem,
  RestoreSelection,
  Requester,
  RestoreTarget,
  restoreCallSchemas,
} from '@mlr/contracts';
import type { z } from 'zod';
import { CLOCK, type Clock } from '../common/clock.js';
import { JobDispatcher } from '../dispatch/job-dispatcher.js';
import { CONNECTOR_DIRECTORY, type ConnectorDirectory, type ConnectorRef } from '../licensing/connector-directory.js';
import { MLR_GATE, type MlrGate } from '../licensing/mlr-gate.js';
import { RECORD_RESOLVER, type RecordResolver } from './record-resolver.js';
import { RESTORE_REPOSITORY, type RestoreCommand, type RestoreRepository } from './restore-items.repository.js';
import { RestoreErrorCode, RestoreException } from './restore.exception.js';

type Request<V extends keyof typeof restoreCallSchemas> = z.output<(typeof restoreCallSchemas)[V]['request']>;

/**
 * Most bytes of JSON items in one reply: NATS refuses messages above 1 MiB. A page of items with
 * long subjects is cut short; the caller continues after the last item it got.
 */
export const MAX_REPLY_ITEM_BYTES = 768 * 1024;

/** The items of `items` that fit in one reply (at least one). */
export function fitReply<T>(items: readonly T[]): T[] {
  const fitted: T[] = [];
  let bytes = 0;
  for (const item of items) {
    bytes += Buffer.byteLength(JSON.stringify(item));
    if (fitted.length > 0 && bytes > MAX_REPLY_ITEM_BYTES) break;
    fitted.push(item);
  }
  return fitted;
}

/**
 * What a requester may restore, decided before anything is read: operators see no mail content and
 * restore nothing; restoring into another mailbox is for tenant admins, and only into a mailbox they
 * may see. (Original and folder targets go to the records' own mailboxes, which indexing checks are
 * visible to the requester.)
 */
export function authorise(requester: Requester, target: RestoreTarget): void {
  if (requester.role === 'operator') {
    throw new RestoreException(
      RestoreErrorCode.FORBIDDEN,
      'requester: operators manage the platform but see no mail content; a tenant admin or the mailbox user must restore',
      'requester',
    );
  }
  if (target.kind === 'mailbox') {
    if (requester.role !== 'tenant_admin') {
      throw new RestoreException(
        RestoreErrorCode.FORBIDDEN,
        'target: only a tenant admin may restore into another mailbox; restore to the original place or to a folder instead',
        'target',
      );
    }
    const visible = requester.visibleMailboxes;
    if (visible !== 'all' && !visible.includes(target.mailbox)) {
      throw new RestoreException(
        RestoreErrorCode.FORBIDDEN,
        `target.mailbox: you may not restore into ${target.mailbox}`,
        'target.mailbox',
      );
    }
  }
}

/**
 * Who acts for the requester when the job runs (the rule, for every restore): the agent
 * (`runBy: 'connector'`) opens mailboxes as the connector's service account, which it may do only
 * for a tenant admin while that connector has "Receive As" (`requester.serviceAccount`, decided by
 * the gateway from licensing). Anyone else restores with the mailbox owner's own credentials, given
 * for that request on the customer's side and never sent to the cloud: the connector's command line
 * runs the job (`runBy: 'caller'`).
 *
 * Exports (mbox, eml-zip) are not held to this: the agent opens no mailbox for them (it fetches the
 * sealed objects from storage and writes the file into its `restore.exportDir`), so no service
 * account acts, and what they hold is already limited to the mailboxes the requester may see.
 */
export function requireActingCredentials(
  requester: Requester,
  target: RestoreTarget,
  runBy: 'connector' | 'caller',
  connectorId: string,
): void {
  if (runBy === 'caller' || target.kind === 'export') return;
  if (requester.serviceAccount && requester.role === 'tenant_admin') return;
  const who =
    requester.role === 'tenant_admin'
      ? `the service account of connector ${connectorId} is not known to have "Receive As" (enrolment found none or could not verify it), so it may not act for you`
      : "the connector's service account acts only for tenant admins";
  throw new RestoreException(
    RestoreErrorCode.OWN_CREDENTIALS_REQUIRED,
    `runBy: ${who}; restore with your own mailbox credentials from the connector instead: ` +
      'connector restore --own-credentials --login <address> (the job then runs on your side with runBy "caller", ' +
      'and your password never reaches the cloud). No job was created',
    'runBy',
  );
}

@Injectable()
export class RestoresService {
  constructor(
    @Inject(RESTORE_REPOSITORY) private readonly restores: RestoreRepository,
    @Inject(RECORD_RESOLVER) private readonly resolver: RecordResolver,
    @Inject(MLR_GATE) private readonly mlrGate: MlrGate,
    @Inject(JobDispatcher) private readonly dispatcher: JobDispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONNECTOR_DIRECTORY) private readonly directory: ConnectorDirectory,
  ) {}

  /**
   * `restores.create`: checks who asks, picks the connector, checks who would act for the requester
   * (`requireActingCredentials`), asks licensing, resolves the selection,
   * then writes the job and all its items in one transaction and publishes the job. A request refused
   * at any step leaves nothing behind.
   */
  async create(request: Request<'restores.create'>): Promise<RestoreAccepted> {
    authorise(request.requester, request.target);
    const connectorId = await this.pickConnector(request.tenantId, request.connectorId);
    requireActingCredentials(request.requester, request.target, request.runBy, connectorId);
    // Restores still run when backups are refused beyond the licence's protected-mailbox limit.
    const verdict = await this.mlrGate.check(request.tenantId, 'restore');
    if (!verdict.allowed) {
      throw new RestoreException(
        RestoreErrorCode.MLR_NOT_ALLOWED,
        `tenantId: restore refused, no job was created: ${verdict.message}`,
        'tenantId',
      );
    }
    const selection: RestoreSelection =
      request.recordIds !== undefined ? { recordIds: request.recordIds } : { query: request.query ?? {} };
    const items: ResolvedRecord[] = await this.resolver.resolve({
      tenantId: request.tenantId,
      visibleMailboxes: request.requester.visibleMailboxes,
      selection,
    });
    if (items.length === 0) {
      throw new RestoreException(
        RestoreErrorCode.INVALID_REQUEST,
        'query: the search matches no message you may restore; nothing to do',
        'query',
      );
    }
    const now = this.clock.now();
    const command: RestoreCommand = {
      kind: 'restore',
      jobId: randomUUID(),
      tenantId: request.tenantId,
      connectorId,
      requestedAt: now.toISOString(),
      requestedBy: request.requester.actor,
      itemCount: items.length,
      target: request.target,
      duplicate: request.duplicate,
    };
    const kind = request.target.kind === 'export' ? 'export' : 'restore';
    const byCaller = request.runBy === 'caller';
    await this.restores.createJob({ command, kind, items, createdAt: now, handedToCaller: byCaller });
    // The job is committed: a failure to publish now is repaired by the dispatcher's ticks. A job the
    // caller runs is never published (it was handed over at creation).
    if (!byCaller) await this.dispatcher.publish(command);
    return {
      jobId: command.jobId,
      state: 'queued',
      kind,
      itemCount: items.length,
      connectorId,
      runBy: request.runBy,
      requestedAt: command.requestedAt,
    };
  }

  /** `restore.items` (tenant call of the connector): a page of the job's items by `seq`. */
  async itemsPage(
    tenantId: string,
    jobId: string,
    after: number,
    limit: number,
  ): Promise<{ items: RestoreItem[]; total: number }> {
    await this.requireRestoreJob(tenantId, jobId);
    const [items, total] = await Promise.all([
      this.restores.itemsAfter(jobId, after, limit),
      this.restores.itemCount(jobId),
    ]);
    return { items: fitReply(items), total };
  }

  /** `jobs.items`: items of a restore or export job with their results. */
  async list(request: Request<'jobs.items'>): Promise<JobItemList> {
    const { requester } = request;
    if (requester?.role === 'operator') {
      throw new RestoreException(
        RestoreErrorCode.FORBIDDEN,
        'requester: operators see no mail content, and restore items show subjects',
        'requester',
      );
    }
    await this.requireRestoreJob(request.tenantId, request.jobId);
    const visible = requester?.visibleMailboxes ?? 'all';
    const rows = await this.restores.itemViews(request.jobId, {
      after: request.after,
      limit: request.limit + 1,
      ...(request.outcome ? { outcome: request.outcome } : {}),
      // Someone who does not see every mailbox sees the items of their own only.
      ...(visible === 'all' ? {} : { mailboxes: visible }),
    });
    const items = fitReply(rows.slice(0, request.limit));
    const more = rows.length > items.length;
    return { items, nextAfter: more ? (items.at(-1)?.seq ?? null) : null };
  }

  private async requireRestoreJob(tenantId: string, jobId: string): Promise<void> {
    if (!(await this.restores.restoreJobExists(tenantId, jobId))) {
      throw new RestoreException(
        RestoreErrorCode.JOB_NOT_FOUND,
        `jobId: tenant ${tenantId} has no restore or export job ${jobId}`,
        'jobId',
      );
    }
  }

  /** The given connector (enrolled for the tenant, not revoked), else the tenant's only one. */
  private async pickConnector(tenantId: string, connectorId: string | undefined): Promise<string> {
    let connectors: ConnectorRef[];
    try {
      connectors = await this.directory.list(tenantId);
    } catch (error) {
      throw new RestoreException(
        RestoreErrorCode.LICENSING_UNAVAILABLE,
        `connectorId: ${(error as Error).message}; try again when it is back`,
        'connectorId',
      );
    }
    if (connectorId !== undefined) {
      const connector = connectors.find((c) => c.id === connectorId);
      if (!connector) {
        throw new RestoreException(
          RestoreErrorCode.CONNECTOR_NOT_FOUND,
          `connectorId: tenant ${tenantId} has no connector ${connectorId}`,
          'connectorId',
        );
      }
      if (connector.revokedAt !== null) {
        throw new RestoreException(
          RestoreErrorCode.CONNECTOR_NOT_FOUND,
          `connectorId: connector ${connectorId} has been revoked; name another connector`,
          'connectorId',
        );
      }
      if (!connector.enrolled) {
        throw new RestoreException(
          RestoreErrorCode.CONNECTOR_NOT_FOUND,
          `connectorId: connector ${connectorId} has not enrolled yet; enrol it (connector enroll) or name another connector`,
          'connectorId',
        );
      }
      return connector.id;
    }
    // A connector awaiting enrolment runs nothing yet: it is no candidate.
    const usable = connectors.filter((c) => c.revokedAt === null && c.enrolled);
    const [only] = usable;
    if (only && usable.length === 1) return only.id;
    throw new RestoreException(
      RestoreErrorCode.CONNECTOR_NOT_FOUND,
      usable.length === 0
        ? `connectorId: tenant ${tenantId} has no connector that could restore; enrol one first`
        : `connectorId: tenant ${tenantId} has ${usable.length} connectors; give connectorId`,
      'connectorId',
    );
  }
}
