import { Inject, Injectable } from '@nestjs/common';
import { connectorCallSchemas, serviceSubject } from '@mlr/contracts';
import { refusalCode, requestNestVerb, type MessagingConnection } from '@mlr/messaging';
import { MESSAGING } from '@mlr/runtime';

/** One connector of a tenant, as licensing (which enrols and revokes connectors) knows it. */
export interface ConnectorRef {
  id: string;
  /** When it was revoked; a revoked connector takes no jobs. */
  revokedAt: Date | null;
  /** Its enrolment token was used, or it was provisioned without one. */
  enrolled: boolean;
}

/** Licensing could not be asked; the same request may succeed once it is back. */
export class ConnectorsUnavailable extends Error {
  constructor(tenantId: string, cause: unknown) {
    super(`licensing could not be asked for tenant ${tenantId}'s connectors (${(cause as Error).message})`);
    this.name = 'ConnectorsUnavailable';
  }
}

/**
 * Which connectors a tenant has: scheduling asks licensing (`connectors.list`) instead of reading
 * its table. `list` throws ConnectorsUnavailable when licensing cannot answer; `lastKnown` is what it
 * last answered for the tenant in this process (the dispatcher's scheduled runs go on with it through
 * an outage of licensing, as they do with its last MLR verdict).
 */
export interface ConnectorDirectory {
  list(tenantId: string): Promise<ConnectorRef[]>;
  lastKnown(tenantId: string): ConnectorRef[] | undefined;
}

export const CONNECTOR_DIRECTORY = Symbol('CONNECTOR_DIRECTORY');

const TIMEOUT_MS = 5_000;

@Injectable()
export class LicensingConnectorDirectory implements ConnectorDirectory {
  private readonly known = new Map<string, ConnectorRef[]>();

  constructor(@Inject(MESSAGING) private readonly messaging: MessagingConnection) {}

  async list(tenantId: string): Promise<ConnectorRef[]> {
    let answer: unknown;
    try {
      answer = await requestNestVerb(
        this.messaging.nc,
        serviceSubject('licensing', 'connectors.list'),
        { tenantId },
        TIMEOUT_MS,
      );
    } catch (error) {
      // No such tenant: it has no connectors.
      if (refusalCode(error) === 'not_found') {
        this.known.delete(tenantId);
        return [];
      }
      throw new ConnectorsUnavailable(tenantId, error);
    }
    const parsed = connectorCallSchemas['connectors.list'].response.safeParse(answer);
    if (!parsed.success)
      throw new ConnectorsUnavailable(tenantId, new Error(`unreadable answer: ${parsed.error.message}`));
    const connectors = parsed.data.connectors
      .filter((connector) => connector.tenantId === tenantId)
      .map((connector) => ({
        id: connector.id,
        revokedAt: connector.revokedAt === null ? null : new Date(connector.revokedAt),
        enrolled: connector.enrolledAt !== null || connector.state === 'enrolled',
      }));
    this.known.set(tenantId, connectors);
    return connectors;
  }

  lastKnown(tenantId: string): ConnectorRef[] | undefined {
    return this.known.get(tenantId);
  }
}
