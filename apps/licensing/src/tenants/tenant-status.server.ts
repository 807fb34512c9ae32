import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { tenantCallWildcards } from '@mlr/contracts';
import { tenantCallServer, type MessagingConnection, type Responder } from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';
import { ConnectorsService } from '../connectors/connectors.service.js';
import { TenantsService } from './tenants.service.js';

/** Queue group of the licensing replicas: one of them answers each request. */
export const TENANT_STATUS_QUEUE = 'licensing';

/**
 * Serves the `tenant.status` tenant call (`mlr.<tenant>.status`): a connector asks it before each job,
 * so that a tenant without MLR is refused before any mail is read, with the same sentence scheduling
 * gives for platform jobs; a connector whose NATS credentials predate its build also gets current
 * ones there (`refresh`: its old permissions may allow nothing newer than this subject). The tenant-call
 * validator has already refused a request naming another tenant than its subject's.
 */
@Injectable()
export class TenantStatusServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private responder: Responder | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(TenantsService) private readonly tenants: TenantsService,
    @Inject(ConnectorsService) private readonly connectors: ConnectorsService,
  ) {}

  onApplicationBootstrap(): void {
    const server = tenantCallServer(this.messaging, { queue: TENANT_STATUS_QUEUE });
    this.responder = server.serve('tenant.status', tenantCallWildcards['tenant.status'], async (request) => {
      const status = await this.tenants.status(request.tenantId);
      if (!request.refresh) return status;
      const { connectorId, natsPublicKey } = request.refresh;
      return {
        ...status,
        credentials: await this.connectors.refreshCredentials(request.tenantId, connectorId, natsPublicKey),
      };
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.responder?.stop();
  }
}
