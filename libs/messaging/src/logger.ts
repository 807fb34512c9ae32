/**
 * The logging port of the messaging library. Argument order follows pino (`fields`, then `msg`),
 * so a pino logger fits as is; anything else needs a four-line adapter.
 */
export interface MessagingLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

const ignore = (): void => undefined;

/** Discards everything; the default when no logger is injected. */
export const silentLogger: MessagingLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** A plain-object description of an error that survives JSON logging. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const described: Record<string, unknown> = { name: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (code !== undefined) described['code'] = code;
    if (error.cause !== undefined) described['cause'] = describeError(error.cause);
    return described;
  }
  return { message: String(error) };
}
