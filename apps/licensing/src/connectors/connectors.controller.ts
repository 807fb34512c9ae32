import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  connectorCallSchemas,
  serviceSubject,
  type ConnectorView,
  type CreatedConnector,
  type Enrolment,
} from '@mlr/contracts';
import { parseRequest } from '../common/licensing.exception.js';
import { ConnectorExceptionFilter } from './connectors.exception.js';
import { ConnectorsService } from './connectors.service.js';

const schemas = connectorCallSchemas;

/** `mlr.svc.licensing.connectors.*`: every request is validated here before anything else sees it. */
@Controller()
@UseFilters(ConnectorExceptionFilter)
export class ConnectorsController {
  constructor(@Inject(ConnectorsService) private readonly connectors: ConnectorsService) {}

  @MessagePattern(serviceSubject('licensing', 'connectors.create'))
  create(@Payload() data: unknown): Promise<CreatedConnector> {
    const { actor, ...input } = parseRequest('connectors.create request', schemas['connectors.create'].request, data);
    return this.connectors.create(input, actor);
  }

  @MessagePattern(serviceSubject('licensing', 'connectors.list'))
  list(@Payload() data: unknown): Promise<{ connectors: ConnectorView[] }> {
    const { tenantId } = parseRequest('connectors.list request', schemas['connectors.list'].request, data);
    return this.connectors.list(tenantId);
  }

  @MessagePattern(serviceSubject('licensing', 'connectors.get'))
  get(@Payload() data: unknown): Promise<ConnectorView> {
    const { tenantId, connectorId } = parseRequest('connectors.get request', schemas['connectors.get'].request, data);
    return this.connectors.get(tenantId, connectorId);
  }

  @MessagePattern(serviceSubject('licensing', 'connectors.enroll'))
  enroll(@Payload() data: unknown): Promise<Enrolment> {
    return this.connectors.enroll(
      parseRequest('connectors.enroll request', schemas['connectors.enroll'].request, data),
    );
  }

  @MessagePattern(serviceSubject('licensing', 'connectors.revoke'))
  revoke(@Payload() data: unknown): Promise<ConnectorView> {
    const request = parseRequest('connectors.revoke request', schemas['connectors.revoke'].request, data);
    return this.connectors.revoke(request.tenantId, request.connectorId, request.actor);
  }
}
