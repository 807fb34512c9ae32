import { Module, type DynamicModule } from '@nestjs/common';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { referenceCallSchemas, serviceSubject } from '@mlr/contracts';
import { requestNestVerb, type MessagingConnection } from '@mlr/messaging';
import { APP_HEALTH_CHECKS, LOGGER, MESSAGING } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import type { IndexingConfig } from './config.js';
import { IngestMetrics } from './records/ingest.metrics.js';
import { RecordIngest } from './records/record-ingest.js';
import {
  JetStreamIndexedEventSink,
  RECORD_INGEST,
  RECORDS_CONSUMER_OPTIONS,
  RecordsConsumer,
  type RecordsConsumerOptions,
} from './records/records.consumer.js';
import { PrismaIndexRecordRepository } from './records/repositories/index-record.repository.js';
import { ReferenceRelay } from './references/reference-relay.js';
import { ReferencesController } from './references/references.controller.js';
import { RecordResolve } from './restore/record-resolve.js';
import { PrismaResolveRepository, RESOLVE_REPOSITORY } from './restore/repositories/resolve.repository.js';
import { ResolveController } from './restore/resolve.controller.js';
import { RetentionController } from './retention/retention.controller.js';
import { RetentionRepository } from './retention/retention.repository.js';
import { RecordSearch } from './search/record-search.js';
import { PgSearchRepository, SEARCH_REPOSITORY } from './search/repositories/search.repository.js';
import { SearchController } from './search/search.controller.js';
import { SightingStatusServer } from './sightings/sighting-status.js';

@Module({})
export class IndexingModule {
  static forRoot(config: IndexingConfig): DynamicModule {
    return {
      module: IndexingModule,
      imports: [DatabaseModule.forRoot(config.DATABASE_URL, { maxConnections: config.INDEXING_DB_MAX_CONNECTIONS })],
      controllers: [SearchController, ResolveController, RetentionController, ReferencesController],
      providers: [
        {
          provide: SEARCH_REPOSITORY,
          useFactory: (logger: Logger) =>
            new PgSearchRepository(config.DATABASE_URL, config.INDEXING_SEARCH_DB_CONNECTIONS, logger),
          inject: [LOGGER],
        },
        RecordSearch,
        { provide: RESOLVE_REPOSITORY, useClass: PrismaResolveRepository },
        RecordResolve,
        {
          provide: RetentionRepository,
          useFactory: (prisma: PrismaClient) => new RetentionRepository(prisma),
          inject: [PRISMA],
        },
        {
          provide: RECORD_INGEST,
          useFactory: (prisma: PrismaClient, messaging: MessagingConnection, logger: Logger) =>
            new RecordIngest(
              new PrismaIndexRecordRepository(prisma),
              new JetStreamIndexedEventSink(messaging),
              new IngestMetrics(),
              logger.child({ scope: 'records' }),
              {
                maxBatchRecords: config.INDEXING_BATCH_MAX_RECORDS,
                maxBatchWaitMs: config.INDEXING_BATCH_MAX_WAIT_MS,
                batchConcurrency: config.INDEXING_BATCH_CONCURRENCY,
              },
            ),
          inject: [PRISMA, MESSAGING, LOGGER],
        },
        {
          provide: RECORDS_CONSUMER_OPTIONS,
          useValue: { maxInFlight: config.INDEXING_MAX_IN_FLIGHT } satisfies RecordsConsumerOptions,
        },
        RecordsConsumer,
        {
          provide: SightingStatusServer,
          useFactory: (messaging: MessagingConnection, prisma: PrismaClient) =>
            new SightingStatusServer(messaging, prisma),
          inject: [MESSAGING, PRISMA],
        },
        {
          provide: ReferenceRelay,
          useFactory: (prisma: PrismaClient, messaging: MessagingConnection, logger: Logger) =>
            new ReferenceRelay(
              prisma,
              async (request) =>
                referenceCallSchemas['references.apply'].response.parse(
                  await requestNestVerb(messaging.nc, serviceSubject('storage', 'references.apply'), request, 30_000),
                ),
              logger.child({ scope: 'references' }),
              { everyMs: config.INDEXING_REFERENCE_RELAY_MS },
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
