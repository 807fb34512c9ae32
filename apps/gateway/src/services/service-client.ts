import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  parseContract,
  serviceCallSchemas,
  serviceSubject,
  type ServiceCalls,
  type ServiceName,
  type ServiceVerb,
} from '@mlr/contracts';

export const SERVICES_CLIENT = Symbol('SERVICES_CLIENT');

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
    const reply = await firstValueFrom(this.client.send<unknown>(subject, request).pipe(timeout(timeoutMs)));
    return parseContract(`reply of ${subject}`, serviceCallSchemas[verb].response, reply);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
