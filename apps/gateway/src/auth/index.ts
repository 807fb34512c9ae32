export * from './auth.decorators.js';
export { principalOf, type AuthenticatedRequest, type Principal } from './principal.js';
