import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { tenantCallWildcards } from '@mlr/contracts';
import { tenantCallServer, type MessagingConnection, type Responder } from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';
import { TenantsService } from './tenants.service.js';

/** Queue group of the licensing replicas: one of them answers each request. */
export const TENANT_STATUS_QUEUE = 'licensing';

/**
 * Serves the `tenant.status` tenant call (`mlr.<tenant>.status`): a connector asks it before a job it
 * was given on its own command line (a one-off backup), so that a tenant without MLR is refused before
 * any mail is read, with the same sentence scheduling gives for platform jobs. The tenant-call
 * validator has already refused a request naming another tenant than its subject's.
 */
@Injectable()
export class TenantStatusServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private responder: Responder | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: MessagingConnection,
    @Inject(TenantsService) private readonly tenants: TenantsService,
  ) {}

  onApplicationBootstrap(): void {
    const server = tenantCallServer(this.messaging, { queue: TENANT_STATUS_QUEUE });
    this.responder = server.serve('tenant.status', tenantCallWildcards['tenant.status'], (request) =>
      this.tenants.status(request.tenantId),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.responder?.stop();
  }
}
