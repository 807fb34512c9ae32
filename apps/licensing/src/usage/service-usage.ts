import { serviceSubject, usageCallSchemas, type ServiceVerb } from '@mlr/contracts';
import { requestNestVerb } from '@mlr/messaging';
import type { NatsConnection } from '@nats-io/nats-core';
import type { z } from 'zod';
import { LicensingErrorCode, LicensingException } from '../common/licensing.exception.js';

/** Stored objects and bytes of one tenant, as storage counts them. */
export interface StoredUsage {
  storedObjects: number;
  storedBytes: number;
}

/**
 * What licensing asks of the services that own the data it meters (it reads none of their tables):
 * scheduling counts protected mailboxes, storage counts stored objects and bytes. Both throw a
 * LicensingException SERVICE_UNAVAILABLE (reply `unavailable`) when the service cannot be asked.
 */
export interface ServiceUsage {
  /** Protected mailboxes per tenant at `now` (tenants without any are absent); `timeoutMs` overrides the default wait. */
  protectedMailboxes(now: Date, tenantId?: string, timeoutMs?: number): Promise<ReadonlyMap<string, number>>;
  /** Stored objects and bytes per tenant (tenants that store nothing are absent). */
  storedObjects(tenantId?: string): Promise<ReadonlyMap<string, StoredUsage>>;
}

export const SERVICE_USAGE = Symbol('SERVICE_USAGE');

export class NatsServiceUsage implements ServiceUsage {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 10_000,
  ) {}

  async protectedMailboxes(now: Date, tenantId?: string): Promise<ReadonlyMap<string, number>> {
    const answer = await this.ask(
      'scheduling',
      'mailboxes.protected',
      usageCallSchemas['mailboxes.protected'].response,
      {
        at: now.toISOString(),
        ...(tenantId === undefined ? {} : { tenantId }),
      },
    );
    return new Map(answer.tenants.map((row) => [row.tenantId, row.mailboxes]));
  }

  async storedObjects(tenantId?: string): Promise<ReadonlyMap<string, StoredUsage>> {
    const answer = await this.ask(
      'storage',
      'objects.usage',
      usageCallSchemas['objects.usage'].response,
      tenantId === undefined ? {} : { tenantId },
    );
    return new Map(
      answer.tenants.map((row) => [row.tenantId, { storedObjects: row.storedObjects, storedBytes: row.storedBytes }]),
    );
  }

  private async ask<T>(
    service: 'scheduling' | 'storage',
    verb: ServiceVerb,
    schema: z.ZodType<T>,
    request: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    let answer: unknown;
    try {
      answer = await requestNestVerb(this.nc, serviceSubject(service, verb), request, timeoutMs);
    } catch (error) {
      throw new LicensingException(
        LicensingErrorCode.SERVICE_UNAVAILABLE,
        `${service} could not be asked ${verb} (${(error as Error).message}); try again when it is back`,
      );
    }
    const parsed = schema.safeParse(answer);
    if (!parsed.success) {
      throw new LicensingException(
        LicensingErrorCode.SERVICE_UNAVAILABLE,
        `${service} answered ${verb} with something unreadable: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
}
