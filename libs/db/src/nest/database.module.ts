import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { createPrismaClient } from '../client.js';
import type { PrismaClient } from '../generated/client.js';

/** Injection token of the service's Prisma client. */
export const PRISMA = Symbol('PRISMA');

class PrismaDisconnect implements OnApplicationShutdown {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
  }
}

/** One Prisma client per service process, closed on shutdown. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(databaseUrl: string, options: { maxConnections?: number } = {}): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: PRISMA, useFactory: () => createPrismaClient(databaseUrl, options) }, PrismaDisconnect],
      exports: [PRISMA],
    };
  }
}

/** Health check shape shared with the runtime library: resolves when PostgreSQL answers. */
export function postgresHealthCheck(prisma: PrismaClient): { name: string; check(): Promise<void> } {
  return {
    name: 'postgres',
    check: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
  };
}
