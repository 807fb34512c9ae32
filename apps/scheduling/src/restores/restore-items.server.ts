import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { tenantCallWildcards } from '@mlr/contracts';
import { ServiceError, tenantCallServer, type MessagingConnection, type Responder } from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';
import { RestoreException, toServiceErrorReply } from './restore.exception.js';
import { RestoresService } from './restores.service.js';

/** Queue group of the scheduling replicas: one of them answers each request. */
export const RESTORE_ITEMS_QUEUE = 'scheduling';

/**
 * Serves the `restore.items` tenant call (`mlr.<tenant>.restore.<job>`), through which a connector
 * pages through the items of its restore job. The tenant-call validator has already refused a request
 * whose tenant or job is not its subject's; the job must also be a restore or export job of that tenant.
 */
@Injectable()
export class RestoreItemsServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private responder: Responder | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(RestoresService) private readonly restores: RestoresService,
  ) {}

  onApplicationBootstrap(): void {
    const server = tenantCallServer(this.messaging, { queue: RESTORE_ITEMS_QUEUE });
    this.responder = server.serve('restore.items', tenantCallWildcards['restore.items'], async (request) => {
      try {
        return await this.restores.itemsPage(request.tenantId, request.jobId, request.after, request.limit);
      } catch (error) {
        if (error instanceof RestoreException) {
          const reply = toServiceErrorReply(error);
          throw new ServiceError(reply.code, reply.message);
        }
        throw error;
      }
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.responder?.stop();
  }
}
