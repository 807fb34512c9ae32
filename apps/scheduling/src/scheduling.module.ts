import { Module, type DynamicModule } from '@nestjs/common';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { requestNestVerb, type MessagingConnection } from '@mlr/messaging';
import { APP_HEALTH_CHECKS, LOGGER, MESSAGING } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { CLOCK, systemClock } from './common/clock.js';
import type { SchedulingConfig } from './config.js';
import { DISPATCH_REPOSITORY, PrismaDispatchRepository } from './dispatch/dispatch.repository.js';
import { DISPATCHER_SETTINGS, JobDispatcher, type DispatcherSettings } from './dispatch/job-dispatcher.js';
import { JOB_QUEUE, NatsJobQueue } from './dispatch/job-queue.js';
import { EVENT_CONCURRENCY, JobEventsConsumer } from './events/job-events.consumer.js';
import { JOB_EVENT_REPOSITORY, PrismaJobEventRepository } from './events/job-events.repository.js';
import { JobsController } from './jobs/jobs.controller.js';
import { UsageController } from './usage/usage.controller.js';
import { CONNECTOR_DIRECTORY, LicensingConnectorDirectory } from './licensing/connector-directory.js';
import { JOB_REPOSITORY, PrismaJobRepository } from './jobs/jobs.repository.js';
import { LicensingMlrGate, MLR_GATE } from './licensing/mlr-gate.js';
import { PlansController } from './plans/plans.controller.js';
import { PLAN_REPOSITORY, PrismaPlanRepository } from './plans/plans.repository.js';
import { PlansService } from './plans/plans.service.js';
import { natsExpiryCalls, RetentionExpiry } from './retention/retention-expiry.js';
import { NatsRecordResolver, RECORD_RESOLVER } from './restores/record-resolver.js';
import { PrismaRestoreRepository, RESTORE_REPOSITORY } from './restores/restore-items.repository.js';
import { RestoreItemsServer } from './restores/restore-items.server.js';
import { RestoresController } from './restores/restores.controller.js';
import { RestoresService } from './restores/restores.service.js';

@Module({})
export class SchedulingModule {
  static forRoot(config: SchedulingConfig): DynamicModule {
    const dispatcher: DispatcherSettings = {
      tickMs: config.SCHEDULING_TICK_MS,
      republishAfterMs: config.SCHEDULING_REPUBLISH_AFTER_MS,
      stallAfterMs: config.SCHEDULING_STALL_AFTER_MS,
      batchSize: config.SCHEDULING_BATCH_SIZE,
    };
    return {
      module: SchedulingModule,
      imports: [DatabaseModule.forRoot(config.DATABASE_URL)],
      controllers: [PlansController, JobsController, RestoresController, UsageController],
      providers: [
        { provide: CLOCK, useValue: systemClock },
        { provide: DISPATCHER_SETTINGS, useValue: dispatcher },
        { provide: EVENT_CONCURRENCY, useValue: config.SCHEDULING_EVENT_CONCURRENCY },
        { provide: PLAN_REPOSITORY, useClass: PrismaPlanRepository },
        { provide: DISPATCH_REPOSITORY, useClass: PrismaDispatchRepository },
        { provide: JOB_EVENT_REPOSITORY, useClass: PrismaJobEventRepository },
        { provide: JOB_REPOSITORY, useClass: PrismaJobRepository },
        { provide: JOB_QUEUE, useClass: NatsJobQueue },
        { provide: MLR_GATE, useClass: LicensingMlrGate },
        { provide: CONNECTOR_DIRECTORY, useClass: LicensingConnectorDirectory },
        { provide: RESTORE_REPOSITORY, useClass: PrismaRestoreRepository },
        { provide: RECORD_RESOLVER, useClass: NatsRecordResolver },
        PlansService,
        RestoresService,
        RestoreItemsServer,
        JobDispatcher,
        JobEventsConsumer,
        {
          provide: RetentionExpiry,
          useFactory: (prisma: PrismaClient, messaging: MessagingConnection, logger: Logger) =>
            new RetentionExpiry(
              prisma,
              natsExpiryCalls((subject, data, timeoutMs) => requestNestVerb(messaging.nc, subject, data, timeoutMs)),
              logger.child({ scope: 'expiry' }),
              config.SCHEDULING_EXPIRY_EVERY_MS,
            ),
          inject: [PRISMA, MESSAGING, LOGGER],
        },
        {
          provide: APP_HEALTH_CHECKS,
          useFactory: (prisma: PrismaClient) => [postgresHealthCheck(prisma)],
          inject: [PRISMA],
        },
      ],
      exports: [APP_HEALTH_CHECKS],
    };
  }
}
