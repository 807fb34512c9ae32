import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import {
  parseContract,
  serviceCallSchemas,
  serviceErrorReplySchema,
  serviceSubject,
  type ServiceCalls,
  type ServiceErrorReply,
  type ServiceName,
  type ServiceVerb,
} from '@mlr/contracts';

export const SERVICES_CLIENT = Symbol('SERVICES_CLIENT');

/** A service refused the request with a domain error (bad request, not found, conflict). */
export class ServiceRefusal extends Error {
  override readonly name = 'ServiceRefusal';
  constructor(
    readonly subject: string,
    readonly reply: ServiceErrorReply,
  ) {
    super(reply.message);
  }
}

/** The service did not answer in time, or failed without saying why. */
export class ServiceUnavailable extends Error {
  override readonly name = 'ServiceUnavailable';
  constructor(
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`${subject}: ${reason}`);
  }
}

/** Typed request/reply to the services over NATS; replies are validated against their contract. */
@Injectable()
export class ServiceClient implements OnApplicationShutdown {
  constructor(@Inject(SERVICES_CLIENT) private readonly client: ClientProxy) {}

  async call<V extends ServiceVerb>(
    service: ServiceName,
    verb: V,
    request: ServiceCalls[V]['request'],
    timeoutMs = 5_000,
  ): Promise<ServiceCalls[V]['response']> {
    const subject = serviceSubject(service, verb);
    let reply: unknown;
    try {
      reply = await firstValueFrom(this.client.send<unknown>(subject, request).pipe(timeout(timeoutMs)));
    } catch (error) {
      const refusal = serviceErrorReplySchema.safeParse(error);
      if (refusal.success) throw new ServiceRefusal(subject, refusal.data);
      if (error instanceof TimeoutError) throw new ServiceUnavailable(subject, `no answer within ${timeoutMs} ms`);
      const message =
        error instanceof Error ? error.message : ((error as { message?: string } | null)?.message ?? String(error));
      throw new ServiceUnavailable(subject, message);
    }
    return parseContract(`reply of ${subject}`, serviceCallSchemas[verb].response, reply);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
