import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs. Services log to stdout; command-line tools pass `toStderr` so that their stdout carries
 * only the command's result.
 */
export function createLogger(options: {
  service: string;
  level?: string;
  instanceId?: string;
  toStderr?: boolean;
}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, ...(options.instanceId ? { instance: options.instanceId } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: options.toStderr ? 2 : 1, sync: true }),
  );
}

/** Nest's logger interface on top of pino, so framework and application logs share one JSON stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...context: unknown[]): void {
    this.write('info', message, context);
  }
  error(message: unknown, ...context: unknown[]): void {
    this.write('error', message, context);
  }
  warn(message: unknown, ...context: unknown[]): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, ...context: unknown[]): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, ...context: unknown[]): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, ...context: unknown[]): void {
    this.write('fatal', message, context);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    context: unknown[],
  ): void {
    const scope = typeof context[context.length - 1] === 'string' ? (context[context.length - 1] as string) : undefined;
    const extra = context.filter((c) => c !== scope);
    if (message instanceof Error) {
      this.logger[level]({ err: message, scope }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...message, scope });
    } else {
      this.logger[level]({ scope, ...(extra.length ? { detail: extra } : {}) }, String(message));
    }
  }
}
