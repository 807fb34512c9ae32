import { randomUUID } from 'node:crypto';
import { serviceErrorReplySchema, type ServiceErrorCode } from '@mlr/contracts';
import type { NatsConnection } from '@nats-io/nats-core';

/**
 * One request to a verb a service serves through Nest's NATS transport (`@MessagePattern`,
 * `mlr.svc.<service>.<verb>`): Nest's packet in (`{pattern, data, id}`), its `response` out. A
 * refusal (`err`) or no answer within `timeoutMs` throws, naming the subject. For services that call
 * another service's verb without Nest's client (the gateway has `ServiceClient`).
 */
/** The service answered, and its answer is a refusal (`err`): the request reached it, unlike a timeout. */
export class NestVerbRefused extends Error {
  constructor(
    readonly subject: string,
    /** The refusal as the service sent it (for MLR's services: `{code, message, field?}`). */
    readonly refusal: unknown,
  ) {
    super(`${subject} refused: ${JSON.stringify(refusal)}`);
    this.name = 'NestVerbRefused';
  }
}

/** The reply code of an MLR service's refusal (`not_found`, …); undefined when `error` is no such refusal. */
export function refusalCode(error: unknown): ServiceErrorCode | undefined {
  return error instanceof NestVerbRefused ? serviceErrorReplySchema.safeParse(error.refusal).data?.code : undefined;
}

export async function requestNestVerb(
  nc: NatsConnection,
  subject: string,
  data: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const packet = JSON.stringify({ pattern: subject, data, id: randomUUID() });
  const reply = await nc.request(subject, packet, { timeout: timeoutMs });
  const body = reply.json<{ response?: unknown; err?: unknown }>();
  if (body.err !== undefined && body.err !== null) throw new NestVerbRefused(subject, body.err);
  return body.response;
}
