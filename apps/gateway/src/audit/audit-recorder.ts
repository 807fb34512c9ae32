import { Inject, Injectable } from '@nestjs/common';
import type { AuditEventInput } from '@mlr/contracts';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { ServiceClient } from '../services/service-client.js';

/**
 * Writes audit events to the licensing service's audit trail. Recording is awaited, so that an event
 * is readable once the request has been answered; a trail that cannot be written does not undo what
 * was done, but it is logged as an error with the whole event, so that nothing is lost silently.
 */
@Injectable()
export class AuditRecorder {
  constructor(
    @Inject(ServiceClient) private readonly services: ServiceClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async record(event: AuditEventInput): Promise<void> {
    try {
      await this.services.call('licensing', 'audit.record', event);
    } catch (error) {
      this.logger.error(
        { event: 'audit.record-failed', audit: event, err: error },
        `audit event could not be recorded: ${(error as Error).message}`,
      );
    }
  }
}
