import { createPrismaClient, type PrismaClient } from '@mlr/db';
import { createS3ObjectStore, type ObjectStore } from '@mlr/objectstore';
import { PlatformRunner, required, servicesS3, type LocalInfrastructure } from '@mlr/testing';

/** The platform's processes plus direct access to what they stored, for assertions. */
export class PlatformFixture extends PlatformRunner {
  readonly prisma: PrismaClient;
  readonly store: ObjectStore;

  constructor(infra: LocalInfrastructure, logDir: string) {
    super(infra, logDir);
    this.prisma = createPrismaClient(required(infra, 'postgres').databaseUrl);
    // With the services' key: what storage writes, only the services' user may read.
    this.store = createS3ObjectStore(servicesS3(infra));
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.prisma.$disconnect();
    this.store.close();
  }
}
