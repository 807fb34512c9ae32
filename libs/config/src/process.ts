import { hostname } from 'node:os';

/** A stable-enough instance id: configured, else host and PID. */
export function instanceId(configured: string | undefined): string {
  return configured ?? `${hostname()}-${process.pid}`;
}

/** Start-up failed (bad config, unreachable dependency): say why on stderr and exit non-zero. */
export function exitOnStartupFailure(service: string): (error: unknown) => never {
  return (error) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${JSON.stringify({ level: 'fatal', service, msg: `start-up failed: ${message}` })}\n`);
    process.exit(1);
  };
}
