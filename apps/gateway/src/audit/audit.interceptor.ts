import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, concatMap, from, map, type Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/principal.js';
import { auditEventOf, type RouteOutcome } from './audit-event.js';
import { AuditRecorder } from './audit-recorder.js';
import { AUDITED_ROUTE, auditNotes, type AuditedRoute } from './audit.decorators.js';

/** Records the outcome of every `@Audited` route the guard let through (its refusals it records itself). */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const route = this.reflector.get<AuditedRoute | undefined>(AUDITED_ROUTE, context.getHandler());
    if (!route || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = request.principal;
    if (!principal) return next.handle();
    const record = (outcome: RouteOutcome) =>
      this.recorder.record(
        auditEventOf({
          route,
          principal,
          method: request.method,
          path: request.path,
          params: request.params as Record<string, string>,
          notes: auditNotes(request),
          outcome,
        }),
      );
    return next.handle().pipe(
      concatMap((result) => from(record({ ok: true, result })).pipe(map(() => result))),
      catchError((error: unknown) =>
        from(record({ ok: false, error })).pipe(
          concatMap(() => {
            throw error;
          }),
        ),
      ),
    );
  }
}
