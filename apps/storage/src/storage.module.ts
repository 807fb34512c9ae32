import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { serviceSubject, type Channel, type ChannelPayloads, type Subject } from '@mlr/contracts';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { Publisher, requestNestVerb, type MessagingConnection } from '@mlr/messaging';
import { createS3ObjectStore, isObjectStoreError, ObjectStoreErrorCode, type ObjectStore } from '@mlr/objectstore';
import { APP_HEALTH_CHECKS, LOGGER, MESSAGING, type HealthCheck } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { AbandonedUploads } from './backup/abandoned-uploads.js';
import { JetStreamChunkStore } from './backup/chunk-store.js';
import { CommitBatchConsumer } from './backup/commit-batch.consumer.js';
import { createStorageMetrics, type StorageMetrics } from './backup/storage-metrics.js';
import { PrismaStoredObjectRepository } from './backup/stored-object.repository.js';
import { jetStreamOutcomeSink, StoreCommitBatch } from './backup/store-commit-batch.use-case.js';
import { objectRetention } from './backup/writers/object-writer.js';
import { LicensingTenantLayouts } from './backup/tenant-layouts.js';
import { ObjectsUsageController } from './usage/objects-usage.controller.js';
import { ReferencesController } from './references/references.controller.js';
import { IndividualWriter } from './backup/writers/individual-writer.js';
import { PackWriter } from './backup/writers/pack-writer.js';
import type { StorageConfig } from './config.js';
import { LockRenewal } from './integrity/lock-renewal.js';
import { VersionWatch } from './integrity/version-watch.js';
import { FetchObjectRange } from './restore/fetch-object-range.use-case.js';
import { FetchObjectBatch } from './restore/fetch-object-batch.use-case.js';
import { ObjectFetchServer } from './restore/object-fetch.server.js';

export const OBJECT_STORE = Symbol('OBJECT_STORE');
export const STORAGE_CONFIG = Symbol('STORAGE_CONFIG');
const STORAGE_METRICS = Symbol('STORAGE_METRICS');
const BUCKET_DEFAULTS = Symbol('BUCKET_DEFAULTS');
const TENANT_LAYOUTS = Symbol('TENANT_LAYOUTS');

/** The bucket's default retention in days, as BucketBootstrap read it (years counted as 365 days). */
interface BucketDefaults {
  retentionDays: number | undefined;
}

/**
 * Storage takes no work before it has seen that the bucket protects what it writes: Object Lock on,
 * with a default retention rule. It cannot set them up itself: its key may write and read but
 * never delete or change the bucket's settings (`npm run storage:setup-bucket`, run with the
 * bucket owner's key, does; `docs/data-lifecycle.md`).
 */
class BucketBootstrap implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(STORAGE_CONFIG) private readonly config: StorageConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(BUCKET_DEFAULTS) private readonly defaults: BucketDefaults,
  ) {}
  async onModuleInit(): Promise<void> {
    const bucket = this.config.S3_BUCKET;
    const setUp = `set it up with the bucket owner's key first (npm run storage:setup-bucket, or the chart's bucket set-up Job)`;
    let retention;
    try {
      retention = await this.store.defaultRetention(bucket);
    } catch (error) {
      if (isObjectStoreError(error) && error.code === ObjectStoreErrorCode.BucketNotFound) {
        throw new Error(`bucket '${bucket}' does not exist: ${setUp}`, { cause: error });
      }
      throw error;
    }
    if (!retention) {
      throw new Error(
        `bucket '${bucket}' has no default retention, so objects could be deleted as soon as they are written: ${setUp}`,
      );
    }
    this.defaults.retentionDays = (retention.days ?? 0) + (retention.years ?? 0) * 365;
    this.logger.info(
      { bucket, defaultRetention: retention },
      `bucket '${bucket}': every new object is kept ${retention.days ?? 0} days ${retention.years ? `and ${retention.years} years ` : ''}(${retention.mode})`,
    );
  }
  onApplicationShutdown(): void {
    this.store.close();
  }
}

function retentionOf(config: StorageConfig) {
  return config.STORAGE_RETENTION_DAYS
    ? { days: config.STORAGE_RETENTION_DAYS, mode: config.STORAGE_RETENTION_MODE }
    : undefined;
}

/** The retention of a tenant's new objects: the platform's, or the tenant's default when longer. */
function tenantRetention(config: StorageConfig, defaults: BucketDefaults, layouts: LicensingTenantLayouts) {
  return (tenantId: string) =>
    objectRetention(
      retentionOf(config),
      defaults.retentionDays,
      layouts.retentionDaysOf(tenantId),
      config.STORAGE_RETENTION_MODE,
    );
}

@Module({})
export class StorageModule {
  static forRoot(config: StorageConfig): DynamicModule {
    return {
      module: StorageModule,
      imports: [DatabaseModule.forRoot(config.DATABASE_URL)],
      controllers: [ObjectsUsageController, ReferencesController],
      providers: [
        { provide: STORAGE_CONFIG, useValue: config },
        { provide: BUCKET_DEFAULTS, useValue: { retentionDays: undefined } satisfies BucketDefaults },
        {
          provide: TENANT_LAYOUTS,
          useFactory: (messaging: MessagingConnection) => new LicensingTenantLayouts(messaging.nc),
          inject: [MESSAGING],
        },
        {
          provide: OBJECT_STORE,
          useFactory: () =>
            createS3ObjectStore({
              endpoint: config.S3_ENDPOINT,
              region: config.S3_REGION,
              accessKey: config.S3_ACCESS_KEY,
              secretKey: config.S3_SECRET_KEY,
              // A pack (up to one and a half times the target) goes up with one PUT; only a large
              // message in a pack of its own is uploaded in parts.
              multipartThresholdBytes: 2 * config.STORAGE_PACK_TARGET_BYTES,
            }),
        },
        BucketBootstrap,
        { provide: STORAGE_METRICS, useFactory: () => createStorageMetrics() },
        {
          provide: PackWriter,
          useFactory: (
            prisma: PrismaClient,
            store: ObjectStore,
            metrics: StorageMetrics,
            logger: Logger,
            defaults: BucketDefaults,
            layouts: LicensingTenantLayouts,
          ) => {
            if (config.STORAGE_PACK_BUFFER_BYTES < 2 * config.STORAGE_PACK_TARGET_BYTES) {
              throw new Error(
                `STORAGE_PACK_BUFFER_BYTES (${config.STORAGE_PACK_BUFFER_BYTES}) must be at least twice STORAGE_PACK_TARGET_BYTES (${config.STORAGE_PACK_TARGET_BYTES})`,
              );
            }
            return new PackWriter(
              {
                targetBytes: config.STORAGE_PACK_TARGET_BYTES,
                maxWaitMs: config.STORAGE_PACK_MAX_WAIT_MS,
                bufferBytes: config.STORAGE_PACK_BUFFER_BYTES,
                concurrentWrites: config.STORAGE_WRITE_CONCURRENCY,
                maxWaitingCalls: config.STORAGE_CONCURRENCY,
              },
              {
                store,
                repository: new PrismaStoredObjectRepository(prisma),
                bucket: config.S3_BUCKET,
                retention: tenantRetention(config, defaults, layouts),
                metrics,
                logger: logger.child({ scope: 'packs' }),
              },
            );
          },
          inject: [PRISMA, OBJECT_STORE, STORAGE_METRICS, LOGGER, BUCKET_DEFAULTS, TENANT_LAYOUTS],
        },
        {
          provide: LockRenewal,
          useFactory: (
            prisma: PrismaClient,
            store: ObjectStore,
            logger: Logger,
            defaults: BucketDefaults,
            layouts: LicensingTenantLayouts,
          ) =>
            new LockRenewal(
              store,
              prisma,
              {
                bucket: config.S3_BUCKET,
                withinMs: config.STORAGE_LOCK_RENEW_WITHIN_DAYS * 86_400_000,
                bucketDefaultDays: () => defaults.retentionDays,
                renewDays: async (tenantId) => {
                  // Licensing's latest word on the tenant's retention; without it, the last one heard.
                  await layouts.layoutOf(tenantId).catch(() => null);
                  return Math.max(config.STORAGE_RETENTION_DAYS ?? 0, layouts.retentionDaysOf(tenantId) ?? 0);
                },
                mode: config.STORAGE_RETENTION_MODE,
              },
              config.STORAGE_LOCK_RENEW_MS,
              logger.child({ scope: 'lock-renewal' }),
            ),
          inject: [PRISMA, OBJECT_STORE, LOGGER, BUCKET_DEFAULTS, TENANT_LAYOUTS],
        },
        {
          provide: StoreCommitBatch,
          useFactory: (
            prisma: PrismaClient,
            messaging: MessagingConnection,
            store: ObjectStore,
            metrics: StorageMetrics,
            logger: Logger,
            packs: PackWriter,
            defaults: BucketDefaults,
            layouts: LicensingTenantLayouts,
          ) => {
            const repository = new PrismaStoredObjectRepository(prisma);
            return new StoreCommitBatch({
              repository,
              layouts,
              chunks: new JetStreamChunkStore(messaging),
              writers: {
                packed: packs,
                individual: new IndividualWriter({
                  store,
                  repository,
                  bucket: config.S3_BUCKET,
                  retention: tenantRetention(config, defaults, layouts),
                  metrics,
                  concurrentWrites: config.STORAGE_WRITE_CONCURRENCY,
                }),
              },
              // Records and refusals are built from a batch validated on arrival: no second validation.
              sink: jetStreamOutcomeSink(
                new Publisher<ChannelPayloads, { [C in Channel]: Subject<C> }>(messaging, { logger: messaging.logger }),
              ),
              metrics,
              holdUpToBytes: Math.floor(config.STORAGE_PACK_TARGET_BYTES / 2),
              logger: logger.child({ scope: 'backup' }),
            });
          },
          inject: [
            PRISMA,
            MESSAGING,
            OBJECT_STORE,
            STORAGE_METRICS,
            LOGGER,
            PackWriter,
            BUCKET_DEFAULTS,
            TENANT_LAYOUTS,
          ],
        },
        {
          provide: AbandonedUploads,
          useFactory: (messaging: MessagingConnection, logger: Logger) =>
            new AbandonedUploads(
              messaging,
              { inactiveMs: config.STORAGE_ABANDONED_UPLOAD_MS, everyMs: config.STORAGE_UPLOAD_SWEEP_MS, batch: 1_000 },
              logger.child({ scope: 'uploads' }),
            ),
          inject: [MESSAGING, LOGGER],
        },
        {
          provide: VersionWatch,
          useFactory: (prisma: PrismaClient, store: ObjectStore, messaging: MessagingConnection, logger: Logger) =>
            new VersionWatch(
              {
                store,
                prisma,
                audit: async (event) => {
                  await requestNestVerb(messaging.nc, serviceSubject('licensing', 'audit.record'), event, 10_000);
                },
                logger: logger.child({ scope: 'versions' }),
              },
              { bucket: config.S3_BUCKET, everyMs: config.STORAGE_VERSION_CHECK_MS },
            ),
          inject: [PRISMA, OBJECT_STORE, MESSAGING, LOGGER],
        },
        {
          provide: CommitBatchConsumer,
          useFactory: (
            messaging: MessagingConnection,
            storeBatch: StoreCommitBatch,
            metrics: StorageMetrics,
            logger: Logger,
            packs: PackWriter,
          ) =>
            new CommitBatchConsumer(messaging, storeBatch, metrics, logger.child({ scope: 'backup' }), {
              concurrency: config.STORAGE_CONCURRENCY,
              drain: () => packs.drain(),
            }),
          inject: [MESSAGING, StoreCommitBatch, STORAGE_METRICS, LOGGER, PackWriter],
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
              new FetchObjectBatch({
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
