import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { tenantCallWildcards } from '@mlr/contracts';
import { tenantCallServer, type MessagingConnection, type Responder } from '@mlr/messaging';
import type { FetchObjectBatch } from './fetch-object-batch.use-case.js';
import type { FetchObjectRange } from './fetch-object-range.use-case.js';

/** Queue group: one storage replica answers each fetch. */
export const OBJECT_FETCH_QUEUE = 'storage';

/**
 * Answers the tenant call `objects.fetch` (`mlr.<tenant>.fetch`) for every tenant. The request's
 * tenant is checked against the subject's by the tenant-call validator, and NATS lets a connector
 * publish only on its own tenant's subject. Starts once every module is initialised and stops,
 * letting fetches in flight finish, before the connections close.
 */
export class ObjectFetchServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private responder: Responder | undefined;

  constructor(
    private readonly messaging: MessagingConnection,
    private readonly fetchRange: FetchObjectRange,
    private readonly fetchBatch: FetchObjectBatch,
  ) {}

  onApplicationBootstrap(): void {
    this.responder = tenantCallServer(this.messaging, { queue: OBJECT_FETCH_QUEUE }).serve(
      'objects.fetch',
      // Every tenant's subject: the validator checks each request against the subject it came on.
      tenantCallWildcards['objects.fetch'],
      // A range of one object, or several whole objects.
      (request) => ('contentIds' in request ? this.fetchBatch.execute(request) : this.fetchRange.execute(request)),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.responder?.stop();
  }
}
