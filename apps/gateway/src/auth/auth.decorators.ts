import { SetMetadata } from '@nestjs/common';

/** The roles a token may carry (`role` claim). Operators see no mail content. */
export const ROLES = ['operator', 'tenant_admin', 'user'] as const;
export type Role = (typeof ROLES)[number];

export const PUBLIC_ROUTE = 'mlr:auth:public';
export const ALLOWED_ROLES = 'mlr:auth:roles';

/**
 * A route anyone may call without a token (health, metrics, connector enrolment, which carries its
 * own single-use token). Every other route of the gateway needs a valid bearer token.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The roles that may call a controller or route; a route's own `@Roles` wins over its controller's.
 * A route with a valid token but no `@Roles` anywhere is refused (403): access is never granted by
 * forgetting to say who may have it.
 */
export const Roles = (...roles: [Role, ...Role[]]): MethodDecorator & ClassDecorator =>
  SetMetadata(ALLOWED_ROLES, roles);
