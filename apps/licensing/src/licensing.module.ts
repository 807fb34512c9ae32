import { Inject, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { DatabaseModule, PRISMA, postgresHealthCheck, type PrismaClient } from '@mlr/db';
import { APP_HEALTH_CHECKS, LOGGER, MESSAGING } from '@mlr/runtime';
import type { MessagingConnection } from '@mlr/messaging';
import type { Logger } from '@mlr/telemetry';
import { AccessController } from './access/access.controller.js';
import { ACCESS_REPOSITORY, PrismaAccessRepository } from './access/access.repository.js';
import { AuditController } from './audit/audit.controller.js';
import { AUDIT_REPOSITORY, PrismaAuditRepository } from './audit/audit.repository.js';
import { CLOCK, systemClock } from './common/clock.js';
import type { LicensingConfig } from './config.js';
import { ConnectorsModule } from './connectors/connectors.module.js';
import { parseVendorPublicKey, type VendorKey } from './licences/licence-signature.js';
import { LicencesController } from './licences/licences.controller.js';
import { LICENCE_REPOSITORY, PrismaLicenceRepository } from './licences/licences.repository.js';
import { LicencesService, VENDOR_KEY } from './licences/licences.service.js';
import { TenantsController } from './tenants/tenants.controller.js';
import { PrismaTenantRepository, TENANT_REPOSITORY } from './tenants/tenants.repository.js';
import { TenantStatusServer } from './tenants/tenant-status.server.js';
import { TenantsService } from './tenants/tenants.service.js';
import { TenantUploadStreams, UPLOAD_STREAM_SETTINGS, type UploadStreamSettings } from './tenants/upload-streams.js';
import { UsageController } from './usage/usage.controller.js';
import { NatsServiceUsage, SERVICE_USAGE } from './usage/service-usage.js';
import { PrismaUsageRepository, USAGE_REPOSITORY } from './usage/usage.repository.js';
import { UsageService } from './usage/usage.service.js';

/** Says at start-up which vendor key licences are verified with, or that none can be. */
class VendorKeyAnnouncement implements OnApplicationBootstrap {
  constructor(
    @Inject(VENDOR_KEY) private readonly vendorKey: VendorKey | null,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}
  onApplicationBootstrap(): void {
    if (this.vendorKey) {
      this.logger.info(
        { event: 'licensing.vendor-key', keyId: this.vendorKey.keyId },
        'licences verified with vendor key',
      );
    } else {
      this.logger.warn(
        { event: 'licensing.vendor-key', keyId: null },
        'LICENSING_VENDOR_PUBLIC_KEY is not set: every licence import will be refused',
      );
    }
  }
}

@Module({})
export class LicensingModule {
  static forRoot(config: LicensingConfig): DynamicModule {
    const vendorKey = config.LICENSING_VENDOR_PUBLIC_KEY
      ? parseVendorPublicKey(config.LICENSING_VENDOR_PUBLIC_KEY)
      : null;
    return {
      module: LicensingModule,
      imports: [
        DatabaseModule.forRoot(config.DATABASE_URL),
        ConnectorsModule.forRoot(
          config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY && config.LICENSING_NATS_ACCOUNT_SIGNING_SEED
            ? {
                accountPublicKey: config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY,
                signingSeed: config.LICENSING_NATS_ACCOUNT_SIGNING_SEED,
              }
            : null,
          config.LICENSING_NATS_OPERATOR_SIGNING_SEED &&
            config.LICENSING_NATS_SYSTEM_CREDS &&
            config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY
            ? {
                servers: config.NATS_URL,
                accountPublicKey: config.LICENSING_NATS_ACCOUNT_PUBLIC_KEY,
                operatorSigningSeed: config.LICENSING_NATS_OPERATOR_SIGNING_SEED,
                systemCredsFile: config.LICENSING_NATS_SYSTEM_CREDS,
              }
            : null,
        ),
      ],
      controllers: [LicencesController, TenantsController, UsageController, AccessController, AuditController],
      providers: [
        { provide: CLOCK, useValue: systemClock },
        { provide: VENDOR_KEY, useValue: vendorKey },
        { provide: LICENCE_REPOSITORY, useClass: PrismaLicenceRepository },
        { provide: TENANT_REPOSITORY, useClass: PrismaTenantRepository },
        { provide: USAGE_REPOSITORY, useClass: PrismaUsageRepository },
        {
          provide: SERVICE_USAGE,
          useFactory: (messaging: MessagingConnection) => new NatsServiceUsage(messaging.nc),
          inject: [MESSAGING],
        },
        { provide: ACCESS_REPOSITORY, useClass: PrismaAccessRepository },
        { provide: AUDIT_REPOSITORY, useClass: PrismaAuditRepository },
        LicencesService,
        TenantsService,
        TenantStatusServer,
        TenantUploadStreams,
        {
          provide: UPLOAD_STREAM_SETTINGS,
          useValue: {
            defaultBytes: config.LICENSING_UPLOAD_QUOTA_DEFAULT_BYTES,
            checkEveryMs: config.LICENSING_UPLOAD_STREAMS_CHECK_MS,
          } satisfies UploadStreamSettings,
        },
        UsageService,
        VendorKeyAnnouncement,
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
