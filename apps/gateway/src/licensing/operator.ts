import type { Request } from 'express';
import { actorOf } from '../http/actor.js';

/**
 * THE place where the licensing endpoints read who is asking (recorded as `importedBy`, `enabledBy`
 * and in the licensing log). Every route of LicenceController, TenantsController and UsageController
 * is operator-only (licences, tenants, MLR enablement, usage; no mail content). Until the gateway
 * has authentication every caller acts as the `api` principal; the coming authorisation guard goes
 * on those three controllers, and this function will then also assert the operator role it attached.
 */
export function operatorActor(request: Request): string {
  return actorOf(request);
}
