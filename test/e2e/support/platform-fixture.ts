import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { PlatformRunner, required, type LocalInfrastructure } from '@mlr/testing';

/** The platform's processes plus direct access to what they stored, for assertions. */
export class PlatformFixture extends PlatformRunner {
  readonly prisma: PrismaClient;
  readonly store: ObjectStore;

  constructor(infra: LocalInfrastructure, logDir: string) {
    super(infra, logDir);
    this.prisma = createPrismaClient(required(infra, 'postgres').databaseUrl);
    const s3 = required(infra, 's3');
    this.store = createS3ObjectStore({
      endpoint: s3.endpoint,
      region: s3.region,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
    });
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.prisma.$disconnect();
    this.store.close();
  }
}
