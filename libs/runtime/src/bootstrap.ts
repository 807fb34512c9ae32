import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type INestApplication,
  type OnApplicationShutdown,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { ServiceName } from '@mlr/contracts';
import { createLogger, PinoNestLogger, type Logger, type Telemetry } from '@mlr/telemetry';
import { createNatsHealthController, HttpHealthController, TELEMETRY } from './health/health.controller.js';
import { HEALTH_CHECKS, HealthService, SERVICE_IDENTITY, type HealthCheck } from './health/health.service.js';
import { MESSAGING, NatsConnectionModule, natsHealthCheck } from './nats-connection.module.js';
import { natsCredentials, type NatsCredentialSettings } from './nats-credentials.js';
import { natsAuthOptions, type MessagingConnection, type NatsCredentials } from '@mlr/messaging';

/** Provided and exported by every app module: the checks of its own dependencies. */
export const APP_HEALTH_CHECKS = Symbol('APP_HEALTH_CHECKS');

/** The part of every service's validated configuration that the bootstrap needs. */
export interface ServiceRuntimeConfig extends NatsCredentialSettings {
  NATS_URL: string;
  HTTP_PORT: number;
  HTTP_HOST: string;
  LOG_LEVEL: string;
}

export interface ServiceBootstrapOptions {
  service: ServiceName;
  instance: string;
  config: ServiceRuntimeConfig;
  telemetry: Telemetry;
  /** The app's module; it must provide and export APP_HEALTH_CHECKS (NATS is checked here). */
  module: Type<unknown> | DynamicModule;
  /** Services listen on NATS (request/reply on `mlr.svc.<service>.*`); the gateway does not. */
  natsTransport: boolean;
}

export interface RunningService {
  app: INestApplication;
  logger: Logger;
  port: number;
}

/** The service's pino logger, for application code that logs structured events. */
export const LOGGER = Symbol('LOGGER');

/** Runs last on shutdown (Nest calls hooks of the root module after its imports'). */
class FinalShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}
  async onApplicationShutdown(signal?: string): Promise<void> {
    await this.telemetry.shutdown();
    this.logger.info({ event: 'stopped', signal }, 'stopped');
  }
}

@Module({})
class ServiceRootModule {}

@Global()
@Module({})
class LoggerModule {
  static forRoot(logger: Logger): DynamicModule {
    return { module: LoggerModule, providers: [{ provide: LOGGER, useValue: logger }], exports: [LOGGER] };
  }
}

/**
 * Options of Nest's NATS transport (server) and clients for the configured server and credentials;
 * reads the creds file (NATS_CREDS), so a missing or broken file fails the start naming it.
 */
export function natsTransportOptions(
  config: ServiceRuntimeConfig,
  name: string,
  credentials: NatsCredentials | undefined = natsCredentials(config),
) {
  return {
    servers: [config.NATS_URL],
    name,
    ...natsAuthOptions(credentials),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  };
}

/**
 * Starts a service the same way everywhere (STYLE.md, "main.ts in a fixed order"): Nest app with
 * buffered logs, pino logger, NATS transport, shutdown hooks, then HTTP for health and metrics.
 * Telemetry must already be started and the config validated by the caller.
 */
export async function bootstrapService(options: ServiceBootstrapOptions): Promise<RunningService> {
  const logger = createLogger({
    service: options.service,
    level: options.config.LOG_LEVEL,
    instanceId: options.instance,
  });
  const credentials = natsCredentials(options.config);
  const root: DynamicModule = {
    module: ServiceRootModule,
    imports: [
      LoggerModule.forRoot(logger),
      NatsConnectionModule.forRoot({
        url: options.config.NATS_URL,
        credentials,
        name: `mlr-${options.service}-${options.instance}`,
        logger,
      }),
      options.module,
    ],
    controllers: options.natsTransport
      ? [HttpHealthController, createNatsHealthController(options.service)]
      : [HttpHealthController],
    providers: [
      HealthService,
      FinalShutdown,
      { provide: TELEMETRY, useValue: options.telemetry },
      {
        provide: HEALTH_CHECKS,
        useFactory: (messaging: MessagingConnection, appChecks: HealthCheck[]) => [
          natsHealthCheck(messaging),
          ...appChecks,
        ],
        inject: [MESSAGING, APP_HEALTH_CHECKS],
      },
      { provide: SERVICE_IDENTITY, useValue: { service: options.service, instance: options.instance } },
    ],
  };
  const app = await NestFactory.create(root, { bufferLogs: true });
  app.useLogger(new PinoNestLogger(logger));
  if (options.natsTransport) {
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.NATS,
        options: {
          ...natsTransportOptions(options.config, `mlr-${options.service}-${options.instance}`, credentials),
          queue: `mlr-${options.service}`,
        },
      },
      { inheritAppConfig: true },
    );
  }
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(options.config.HTTP_PORT, options.config.HTTP_HOST);
  const address = app.getHttpServer().address() as { port: number };
  logger.info(
    { event: 'ready', port: address.port },
    `${options.service} ready on http://${options.config.HTTP_HOST}:${address.port}`,
  );
  return { app, logger, port: address.port };
}
