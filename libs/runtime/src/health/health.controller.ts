import { Controller, Get, Inject, Req, Res, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import type { Request, Response } from 'express';
import { serviceSubject, type HealthReport, type ServiceName } from '@mlr/contracts';
import type { Telemetry } from '@mlr/telemetry';
import { HealthService } from './health.service.js';

export const TELEMETRY = Symbol('TELEMETRY');

/** HTTP `/health` (200 when every dependency answers, 503 otherwise) and `/metrics` for Prometheus. */
@Controller()
export class HttpHealthController {
  constructor(
    @Inject(HealthService) private readonly health: HealthService,
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
  ) {}

  @Get('health')
  async http(@Res() response: Response): Promise<void> {
    const report = await this.health.report();
    response.status(report.status === 'ok' ? 200 : 503).json(report);
  }

  @Get('metrics')
  metrics(@Req() request: Request, @Res() response: Response): void {
    this.telemetry.handleMetricsRequest(request, response);
  }
}

/** The same report on NATS at `mlr.svc.<service>.health`, where the gateway asks for it. */
export function createNatsHealthController(service: ServiceName): Type<unknown> {
  @Controller()
  class NatsHealthController {
    constructor(@Inject(HealthService) private readonly health: HealthService) {}

    @MessagePattern(serviceSubject(service, 'health'))
    report(): Promise<HealthReport> {
      return this.health.report();
    }
  }
  return NatsHealthController;
}
