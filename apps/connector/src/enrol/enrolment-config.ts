import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { connectorIdSchema, parseContract, tenantIdSchema } from '@mlr/contracts';
import {
  ConnectorConfigError,
  connectorConfigSchema,
  loadConnectorConfig,
  sourcesOrThrow,
  type NamedSourceConfig,
} from '../config/connector-config.js';

/**
 * The configuration file before enrolment: what the connector's configuration has, except that the
 * tenant, the connector id and the NATS credentials come from enrolment (any present are replaced).
 */
export const enrolmentConfigSchema = connectorConfigSchema.extend({
  tenantId: tenantIdSchema.optional(),
  connectorId: connectorIdSchema.optional(),
  nats: z.looseObject({ url: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// or tls:// URL') }),
});
export type EnrolmentConfig = Omit<z.output<typeof enrolmentConfigSchema>, 'source' | 'sources'> & {
  /** Every source of the connector (`source` alone is the source named `default`). */
  sources: NamedSourceConfig[];
};

export function readEnrolmentConfig(path: string): { raw: Record<string, unknown>; config: EnrolmentConfig } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConnectorConfigError(`cannot read connector configuration ${path}: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConnectorConfigError(`connector configuration ${path} must be a JSON object`);
  }
  let parsed: z.output<typeof enrolmentConfigSchema>;
  try {
    parsed = parseContract(`connector configuration ${path}`, enrolmentConfigSchema, raw);
  } catch (error) {
    throw new ConnectorConfigError((error as Error).message);
  }
  const { source: _source, sources: _sources, ...rest } = parsed;
  const config = { ...rest, sources: sourcesOrThrow(`connector configuration ${path}`, parsed) };
  return { raw: raw as Record<string, unknown>, config };
}

/** Where the creds file goes by default: in the state directory, as `nats.creds`. */
export function defaultCredsFile(config: EnrolmentConfig): string {
  return resolve(config.stateDir, 'nats.creds');
}

/**
 * Rewrites the configuration with what enrolment decided (tenant, connector, creds file instead of
 * a password), keeping every other field as written. Atomic (temporary file + rename), mode 0600,
 * and the result must load as a connector configuration.
 */
export function writeEnrolledConfig(
  path: string,
  raw: Record<string, unknown>,
  enrolled: { tenantId: string; connectorId: string; credsFile: string },
): void {
  const nats = raw['nats'] as Record<string, unknown>;
  const next = {
    ...raw,
    tenantId: enrolled.tenantId,
    connectorId: enrolled.connectorId,
    nats: { url: nats['url'], credsFile: enrolled.credsFile },
  };
  const temporary = join(dirname(path), `.${Date.now()}.connector-config.tmp`);
  writeFileSync(temporary, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
  loadConnectorConfig(path);
}
