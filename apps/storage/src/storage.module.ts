import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { APP_HEALTH_CHECKS, type HealthCheck } from '@mlr/runtime';
import type { StorageConfig } from './config.js';

export const OBJECT_STORE = Symbol('OBJECT_STORE');
export const STORAGE_CONFIG = Symbol('STORAGE_CONFIG');

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
