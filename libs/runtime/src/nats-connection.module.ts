import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import {
  connectMessaging,
  ensurePlatformStreams,
  type MessagingConnection,
  type MessagingLogger,
  type NatsCredentials,
} from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import type { HealthCheck } from './health/health.service.js';

/**
 * The service's own NATS connection with JetStream (streams, consumers, publishing); Nest's NATS
 * transport keeps a separate core connection for request/reply.
 */
export const MESSAGING = Symbol('MESSAGING');

export interface NatsConnectionSettings {
  url: string;
  /** A creds file's content or a user and password (see `natsCredentials`); none: no authentication. */
  credentials?: NatsCredentials | undefined;
  name: string;
  logger: Logger;
}

class MessagingCloser implements OnApplicationShutdown {
  constructor(@Inject(MESSAGING) private readonly messaging: MessagingConnection) {}
  async onApplicationShutdown(): Promise<void> {
    await this.messaging.close();
  }
}

function messagingLogger(logger: Logger): MessagingLogger {
  const child = logger.child({ scope: 'messaging' });
  return {
    debug: (fields, message) => child.debug(fields, message),
    info: (fields, message) => child.info(fields, message),
    warn: (fields, message) => child.warn(fields, message),
    error: (fields, message) => child.error(fields, message),
  };
}

@Global()
@Module({})
export class NatsConnectionModule {
  static forRoot(settings: NatsConnectionSettings): DynamicModule {
    return {
      module: NatsConnectionModule,
      providers: [
        {
          provide: MESSAGING,
          useFactory: async () => {
            const connection = await connectMessaging({
              servers: settings.url,
              name: settings.name,
              ...(settings.credentials ? { credentials: settings.credentials } : {}),
              logger: messagingLogger(settings.logger),
            });
            // Every service declares the same topology; declaring is idempotent.
            await ensurePlatformStreams(connection);
            return connection;
          },
        },
        MessagingCloser,
      ],
      exports: [MESSAGING],
    };
  }
}

/** Healthy when the server answers a round trip on this connection. */
export function natsHealthCheck(messaging: MessagingConnection): HealthCheck {
  return {
    name: 'nats',
    check: async () => {
      if (messaging.nc.isClosed()) throw new Error('connection closed');
      await messaging.nc.flush();
    },
  };
}
