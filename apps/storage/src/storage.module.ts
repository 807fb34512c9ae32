import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Channel, ChannelPayloads, Subject } from '@mlr/contracts';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { Publisher, platformValidator, type MessagingConnection } from '@mlr/messaging';
import { createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { APP_HEALTH_CHECKS, LOGGER, MESSAGING, type HealthCheck } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { JetStreamChunkStore } from './backup/chunk-store.js';
import { ObjectCommitConsumer } from './backup/object-commit.consumer.js';
import { createStorageMetrics, type StorageMetrics } from './backup/storage-metrics.js';
import { PrismaStoredObjectRepository } from './backup/stored-object.repository.js';
import { jetStreamRecordSink, StoreObjectCommit } from './backup/store-object-commit.use-case.js';
import type { StorageConfig } from './config.js';
import { FetchObjectRange } from './restore/fetch-object-range.use-case.js';
import { ObjectFetchServer } from './restore/object-fetch.server.js';

export const OBJECT_STORE = Symbol('OBJECT_STORE');
export const STORAGE_CONFIG = Symbol('STORAGE_CONFIG');
const STORAGE_METRICS = Symbol('STORAGE_METRICS');

/** Makes sure the object bucket exists with Object Lock before the service takes work. */
class BucketBootstrap implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(STORAGE_CONFIG) private readonly config: StorageConfig,
  ) {}
  async onModuleInit(): Promise<void> {
    await this.store.ensureBucket(this.config.S3_BUCKET, { objectLock: true });
  }
  onApplicationShutdown(): void {
    this.store.close();
  }
}

@Module({})
export class StorageModule {
  static forRoot(config: StorageConfig): DynamicModule {
    return {
      module: StorageModule,
      imports: [DatabaseModule.forRoot(config.DATABASE_URL)],
      providers: [
        { provide: STORAGE_CONFIG, useValue: config },
        {
          provide: OBJECT_STORE,
          useFactory: () =>
            createS3ObjectStore({
              endpoint: config.S3_ENDPOINT,
              region: config.S3_REGION,
              accessKey: config.S3_ACCESS_KEY,
              secretKey: config.S3_SECRET_KEY,
            }),
        },
        BucketBootstrap,
        { provide: STORAGE_METRICS, useFactory: () => createStorageMetrics() },
        {
          provide: StoreObjectCommit,
          useFactory: (
            prisma: PrismaClient,
            messaging: MessagingConnection,
            store: ObjectStore,
            metrics: StorageMetrics,
            logger: Logger,
          ) =>
            new StoreObjectCommit({
              objects: new PrismaStoredObjectRepository(prisma),
              chunks: new JetStreamChunkStore(messaging),
              store,
              records: jetStreamRecordSink(
                new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, {
                  validator: platformValidator,
                  logger: messaging.logger,
                }),
              ),
              bucket: config.S3_BUCKET,
              retention: config.STORAGE_RETENTION_DAYS
                ? { days: config.STORAGE_RETENTION_DAYS, mode: config.STORAGE_RETENTION_MODE }
                : undefined,
              metrics,
              logger: logger.child({ scope: 'backup' }),
            }),
          inject: [PRISMA, MESSAGING, OBJECT_STORE, STORAGE_METRICS, LOGGER],
        },
        {
          provide: ObjectCommitConsumer,
          useFactory: (
            messaging: MessagingConnection,
            storeCommit: StoreObjectCommit,
            metrics: StorageMetrics,
            logger: Logger,
          ) =>
            new ObjectCommitConsumer(messaging, storeCommit, metrics, logger.child({ scope: 'backup' }), {
              concurrency: config.STORAGE_CONCURRENCY,
            }),
          inject: [MESSAGING, StoreObjectCommit, STORAGE_METRICS, LOGGER],
        },
        {
          provide: ObjectFetchServer,
          useFactory: (prisma: PrismaClient, messaging: MessagingConnection, store: ObjectStore, logger: Logger) =>
            new ObjectFetchServer(
              messaging,
              new FetchObjectRange({
                objects: new PrismaStoredObjectRepository(prisma),
                store,
                logger: logger.child({ scope: 'restore' }),
              }),
            ),
          inject: [PRISMA, MESSAGING, OBJECT_STORE, LOGGER],
        },
        {
          provide: APP_HEALTH_CHECKS,
          useFactory: (prisma: PrismaClient, store: ObjectStore): HealthCheck[] => [
            postgresHealthCheck(prisma),
            {
              name: 's3',
              // Any answer (found or not) proves the bucket is reachable; errors say why not.
              check: async () => {
                await store.exists({ bucket: config.S3_BUCKET, key: '.mlr-health' });
              },
            },
          ],
          inject: [PRISMA, OBJECT_STORE],
        },
      ],
      exports: [APP_HEALTH_CHECKS],
    };
  }
}
