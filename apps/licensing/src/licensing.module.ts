import { Module, type DynamicModule } from '@nestjs/common';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { APP_HEALTH_CHECKS } from '@mlr/runtime';
import type { LicensingConfig } from './config.js';

@Module({})
export class LicensingModule {
  static forRoot(config: LicensingConfig): DynamicModule {
    return {
      module: LicensingModule,
      imports: [DatabaseModule.forRoot(config.DATABASE_URL)],
      providers: [
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
