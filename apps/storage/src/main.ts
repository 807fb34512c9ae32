// Telemetry starts before anything else is loaded, so that its instrumentation sees every module.
import { exitOnStartupFailure, instanceId, loadConfig } from '@mlr/config';
import { startTelemetry } from '@mlr/telemetry';
import { storageConfigSchema } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig('storage', storageConfigSchema, process.env);
  const instance = instanceId(config.INSTANCE_ID);
  const telemetry = startTelemetry({
    serviceName: 'mlr-storage',
    instanceId: instance,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const { bootstrapService } = await import('@mlr/runtime');
  const { StorageModule } = await import('./storage.module.js');
  await bootstrapService({
    service: 'storage',
    instance,
    config,
    telemetry,
    module: StorageModule.forRoot(config),
    natsTransport: true,
  });
}

main().catch(exitOnStartupFailure('storage'));
