import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { HttpHealthController } from '@mlr/runtime';
import { auditEventOf } from '../audit/audit-event.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { AUDITED_ROUTE, auditNotes, type AuditedRoute } from '../audit/audit.decorators.js';
import { ALLOWED_ROLES, PUBLIC_ROUTE, type Role } from './auth.decorators.js';
import type { AuthenticatedRequest, Principal } from './principal.js';
import { TokenRejected, TokenVerifier } from './token-verifier.js';

export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');

const ROLE_NAMES: Record<Role, string> = { operator: 'operators', tenant_admin: 'tenant admins', user: 'users' };
const A_ROLE: Record<Role, string> = { operator: 'an operator', tenant_admin: 'a tenant admin', user: 'a user' };

/** Why the principal may not call this route, or null when they may. */
export function refusalOf(
  principal: Principal,
  allowed: readonly Role[] | undefined,
  pathTenant: string | undefined,
): string | null {
  if (!allowed || allowed.length === 0) return 'this route is not open to any role';
  if (!allowed.includes(principal.role)) {
    return `${A_ROLE[principal.role]} may not do this: it is for ${allowed.map((role) => ROLE_NAMES[role]).join(' and ')}`;
  }
  if (pathTenant !== undefined && principal.role !== 'operator' && principal.tenant !== pathTenant) {
    return `your token is for tenant "${principal.tenant}", not for tenant "${pathTenant}"`;
  }
  return null;
}

/**
 * Every route of the gateway needs a valid bearer token unless it is `@Public()` (and health and
 * metrics, served by the runtime's own controller): 401 without a token or with one that does not
 * verify (saying why); 403 when the token's role is not among the route's `@Roles`, or its tenant is
 * not the tenant of the path. Refusals of `@Audited` routes are written to the audit trail.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    @Inject(AuditRecorder) private readonly audit: AuditRecorder,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (context.getClass() === HttpHealthController) return true;
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets)) return true;

    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const response = http.getResponse<Response>();
    const principal = await this.authenticate(request, response);
    request.principal = principal;

    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ALLOWED_ROLES, targets);
    const params = (request.params ?? {}) as Record<string, string>;
    const refusal = refusalOf(principal, allowed, params['tenantId']);
    if (refusal === null) return true;

    const error = new ForbiddenException(refusal);
    const route = this.reflector.get<AuditedRoute | undefined>(AUDITED_ROUTE, context.getHandler());
    if (route) {
      await this.audit.record(
        auditEventOf({
          route,
          principal,
          method: request.method,
          path: request.path,
          params,
          notes: auditNotes(request),
          outcome: { ok: false, error },
        }),
      );
    }
    throw error;
  }

  private async authenticate(request: AuthenticatedRequest, response: Response): Promise<Principal> {
    const unauthorized = (reason: string, error: 'invalid_request' | 'invalid_token') => {
      response.setHeader(
        'WWW-Authenticate',
        `Bearer realm="mlr", error="${error}", error_description="${reason.replace(/"/g, "'")}"`,
      );
      return new UnauthorizedException(reason);
    };
    const header = request.headers.authorization;
    if (!header) {
      throw unauthorized('a bearer token is required: send "Authorization: Bearer <token>"', 'invalid_request');
    }
    const token = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header)?.[1];
    if (!token) throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
    try {
      return await this.verifier.verify(token);
    } catch (error) {
      if (error instanceof TokenRejected) throw unauthorized(error.message, 'invalid_token');
      throw error;
    }
  }
}
