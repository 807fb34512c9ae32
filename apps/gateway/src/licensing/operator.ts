import type { Request } from 'express';
import { actorOf } from '../http/actor.js';

/**
 * THE place where the licensing endpoints read who is asking (recorded as `importedBy`, `enabledBy`
 * and in the licensing log). Every route of LicenceController, TenantsController and UsageController
 * is `@Roles('operator')` (licences, tenants, MLR enablement, usage; no mail content): the guard has
 * refused anyone else before a handler runs, so the actor is an operator's token subject.
 */
export function operatorActor(request: Request): string {
  return actorOf(request);
}
