import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { HealthCheck } from './health/health.service.js';

/** The service's own NATS connection (JetStream, events); Nest's transport keeps a separate one. */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

export interface NatsConnectionSettings {
  url: string;
  user?: string | undefined;
  password?: string | undefined;
  name: string;
}

class NatsConnectionCloser implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}
  async onApplicationShutdown(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

@Global()
@Module({})
export class NatsConnectionModule {
  static forRoot(settings: NatsConnectionSettings): DynamicModule {
    return {
      module: NatsConnectionModule,
      providers: [
        {
          provide: NATS_CONNECTION,
          useFactory: () =>
            connect({
              servers: [settings.url],
              name: settings.name,
              ...(settings.user ? { user: settings.user, pass: settings.password } : {}),
              maxReconnectAttempts: -1,
              reconnectTimeWait: 500,
            }),
        },
        NatsConnectionCloser,
      ],
      exports: [NATS_CONNECTION],
    };
  }
}

/** Healthy when the server answers a round trip on this connection. */
export function natsHealthCheck(nc: NatsConnection): HealthCheck {
  return {
    name: 'nats',
    check: async () => {
      if (nc.isClosed()) throw new Error('connection closed');
      await nc.flush();
    },
  };
}
