/**
 * Which cloud service receives which environment variable: each only its own secrets, as the chart
 * gives them (`charts/mlr/templates/_helpers.tpl`, `mlr.serviceEnv`). The local platform (tests,
 * the demo, benchmarks) hands every service the same `infra.serviceEnv`; `startApp` passes on only
 * what `envFor` keeps, so a service that reads another's secret fails to start here as it would in
 * a cluster.
 */

export const PLATFORM_SERVICES = ['licensing', 'scheduling', 'indexing', 'storage', 'gateway'] as const;
export type PlatformService = (typeof PLATFORM_SERVICES)[number];

/** Variables that belong to some services only, by name or prefix (`*` ends a prefix). */
const SHARED_OWNERS: ReadonlyArray<{ name: string; services: readonly PlatformService[] }> = [
  // The database: each service has a URL of its own (`<SERVICE>_DATABASE_URL`, its own by the
  // prefix rule); a shared DATABASE_URL (the owner's, for migrations) goes to none of them.
  { name: 'DATABASE_URL', services: [] },
  // Object storage: only storage writes and reads objects.
  { name: 'S3_*', services: ['storage'] },
  // Access-token verification: only the gateway takes users' requests.
  { name: 'AUTH_*', services: ['gateway'] },
];

function owners(variable: string): readonly PlatformService[] | undefined {
  // Each service's own settings (`LICENSING_*`, …), secrets among them: licensing's NATS signing
  // seeds and vendor key.
  const own = PLATFORM_SERVICES.find((service) => variable.startsWith(`${service.toUpperCase()}_`));
  if (own) return [own];
  return SHARED_OWNERS.find(({ name }) =>
    name.endsWith('*') ? variable.startsWith(name.slice(0, -1)) : variable === name,
  )?.services;
}

/** Whether `service` may receive `variable`: every service may, unless the variable is some services' own. */
export function mayReceive(service: PlatformService, variable: string): boolean {
  return owners(variable)?.includes(service) ?? true;
}

/**
 * `env` without the variables that are not `service`'s; its own database URL (`<SERVICE>_DATABASE_URL`)
 * becomes DATABASE_URL, the name every service reads (the chart does the same with its Secret keys).
 */
export function envFor(service: PlatformService, env: Record<string, string>): Record<string, string> {
  const own = `${service.toUpperCase()}_DATABASE_URL`;
  return Object.fromEntries(
    Object.entries(env)
      .filter(([variable]) => mayReceive(service, variable))
      .map(([variable, value]) => [variable === own ? 'DATABASE_URL' : variable, value]),
  );
}
