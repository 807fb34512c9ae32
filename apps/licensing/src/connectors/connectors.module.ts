import { Inject, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { LOGGER } from '@mlr/runtime';
import type { Logger } from '@mlr/telemetry';
import { AUDIT_REPOSITORY, PrismaAuditRepository } from '../audit/audit.repository.js';
import { CLOCK, systemClock } from '../common/clock.js';
import { ConnectorJwtIssuer, type ConnectorSigningKey } from './connector-jwt.js';
import { ConnectorRevocations, CREDENTIAL_REVOKER } from './connector-revocations.js';
import { ConnectorsController } from './connectors.controller.js';
import { CONNECTOR_REPOSITORY, PrismaConnectorRepository } from './connectors.repository.js';
import { CONNECTOR_JWT_ISSUER, ConnectorsService } from './connectors.service.js';
import { NatsAccountRevoker, type NatsRevocationSettings } from './nats-revocations.js';

/** Says at start-up which account connector credentials are issued for, or that none can be. */
class SigningKeyAnnouncement implements OnApplicationBootstrap {
  constructor(
    @Inject(CONNECTOR_JWT_ISSUER) private readonly issuer: ConnectorJwtIssuer | null,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}
  onApplicationBootstrap(): void {
    if (this.issuer) {
      this.logger.info(
        {
          event: 'connectors.signing-key',
          account: this.issuer.accountPublicKey,
          signingKey: this.issuer.signingPublicKey,
        },
        'connector NATS credentials are issued for the platform account',
      );
    } else {
      this.logger.warn(
        { event: 'connectors.signing-key', account: null },
        'LICENSING_NATS_ACCOUNT_PUBLIC_KEY / LICENSING_NATS_ACCOUNT_SIGNING_SEED are not set: every connector enrolment will be refused',
      );
    }
  }
}

/**
 * Connectors and their enrolment. Needs the database (global), the platform account's signing
 * key (null: enrolment is refused, saying why) and the NATS revocation settings (null: a revoked
 * connector's NATS credentials keep working; its jobs stop).
 */
@Module({})
export class ConnectorsModule {
  static forRoot(signingKey: ConnectorSigningKey | null, revocation: NatsRevocationSettings | null): DynamicModule {
    return {
      module: ConnectorsModule,
      controllers: [ConnectorsController],
      providers: [
        { provide: CLOCK, useValue: systemClock },
        { provide: AUDIT_REPOSITORY, useClass: PrismaAuditRepository },
        { provide: CONNECTOR_JWT_ISSUER, useValue: signingKey ? new ConnectorJwtIssuer(signingKey) : null },
        { provide: CONNECTOR_REPOSITORY, useClass: PrismaConnectorRepository },
        {
          provide: CREDENTIAL_REVOKER,
          useFactory: (logger: Logger) =>
            revocation ? new NatsAccountRevoker(revocation, logger.child({ scope: 'nats-revocations' })) : null,
          inject: [LOGGER],
        },
        ConnectorRevocations,
        ConnectorsService,
        SigningKeyAnnouncement,
      ],
      exports: [ConnectorsService],
    };
  }
}
