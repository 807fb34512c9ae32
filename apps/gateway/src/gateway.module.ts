import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import { SERVICE_NAMES } from '@mlr/contracts';
import { APP_HEALTH_CHECKS, natsTransportOptions, type HealthCheck } from '@mlr/runtime';
import { AuditRecorder } from './audit/audit-recorder.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditInterceptor } from './audit/audit.interceptor.js';
import { AuthGuard, TOKEN_VERIFIER } from './auth/auth.guard.js';
import { TokenVerifier } from './auth/token-verifier.js';
import type { GatewayConfig } from './config.js';
import { ConnectorsController } from './connectors/connectors.controller.js';
import { EnrolmentsController } from './connectors/enrolments.controller.js';
import { JobsController } from './jobs/jobs.controller.js';
import { LicenceController } from './licensing/licence.controller.js';
import { TenantsController } from './licensing/tenants.controller.js';
import { UsageController } from './licensing/usage.controller.js';
import { LegalHoldsController } from './retention/legal-holds.controller.js';
import { PlansController } from './plans/plans.controller.js';
import { RestoresController } from './restores/restores.controller.js';
import { SearchController } from './search/search.controller.js';
import { ServiceClient, SERVICES_CLIENT } from './services/service-client.js';

const BACKEND_SERVICES = SERVICE_NAMES.filter((name) => name !== 'gateway');

@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        ClientsModule.register([
          {
            name: SERVICES_CLIENT,
            transport: Transport.NATS,
            options: natsTransportOptions(config, 'mlr-gateway-client'),
          },
        ]),
      ],
      controllers: [
        PlansController,
        JobsController,
        RestoresController,
        SearchController,
        LicenceController,
        TenantsController,
        UsageController,
        ConnectorsController,
        EnrolmentsController,
        AuditController,
        LegalHoldsController,
      ],
      providers: [
        ServiceClient,
        {
          provide: TOKEN_VERIFIER,
          useFactory: () =>
            TokenVerifier.create({
              publicKey: config.AUTH_JWT_PUBLIC_KEY,
              jwksUrl: config.AUTH_JWKS_URL,
              issuer: config.AUTH_JWT_ISSUER,
              audience: config.AUTH_JWT_AUDIENCE,
              clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
            }),
        },
        AuditRecorder,
        // Every route needs a valid token unless @Public(); @Audited routes are recorded.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        {
          provide: APP_HEALTH_CHECKS,
          // The gateway is only useful when the services behind it answer.
          useFactory: (services: ServiceClient): HealthCheck[] =>
            BACKEND_SERVICES.map((service) => ({
              name: `service:${service}`,
              check: async () => {
                const report = await services.call(service, 'health', {}, 2_500);
                if (report.status !== 'ok') {
                  const failing = Object.entries(report.checks).filter(([, r]) => !r.ok);
                  throw new Error(
                    `${service} is ${report.status}: ${failing.map(([n, r]) => `${n} ${r.detail ?? ''}`).join(', ')}`,
                  );
                }
              },
            })),
          inject: [ServiceClient],
        },
      ],
      exports: [APP_HEALTH_CHECKS],
    };
  }
}
