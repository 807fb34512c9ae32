import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { ServiceErrorCode } from '@mlr/contracts';
import { ServiceRefusal, ServiceUnavailable } from '../services/service-client.js';

function assertUnreachable(value: never): never {
  throw new Error(`unhandled service error code ${String(value)}`);
}

/** The one mapping from service error codes to HTTP statuses. */
export function httpStatusOf(code: ServiceErrorCode): number {
  switch (code) {
    case 'invalid_request':
      return HttpStatus.BAD_REQUEST;
    case 'not_found':
      return HttpStatus.NOT_FOUND;
    case 'conflict':
      return HttpStatus.CONFLICT;
    case 'forbidden':
      return HttpStatus.FORBIDDEN;
    case 'unavailable':
      return HttpStatus.SERVICE_UNAVAILABLE;
    default:
      return assertUnreachable(code);
  }
}

/** Turns refusals and silences of the services into HTTP answers. */
@Catch(ServiceRefusal, ServiceUnavailable)
export class ServiceErrorFilter implements ExceptionFilter<ServiceRefusal | ServiceUnavailable> {
  catch(exception: ServiceRefusal | ServiceUnavailable, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof ServiceUnavailable) {
      response.status(HttpStatus.SERVICE_UNAVAILABLE).json({
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: exception.message,
      });
      return;
    }
    const status = httpStatusOf(exception.reply.code);
    response.status(status).json({
      statusCode: status,
      error: exception.reply.code,
      message: exception.reply.message,
      ...(exception.reply.field ? { field: exception.reply.field } : {}),
      ...(exception.reply.problems ? { problems: exception.reply.problems } : {}),
    });
  }
}
