// Telemetry starts before anything else is loaded, so that its instrumentation sees every module.
import { exitOnStartupFailure, instanceId, loadConfig } from '@mlr/config';
import { startTelemetry } from '@mlr/telemetry';
import { indexingConfigSchema } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig('indexing', indexingConfigSchema, process.env);
  const instance = instanceId(config.INSTANCE_ID);
  const telemetry = startTelemetry({
    serviceName: 'mlr-indexing',
    instanceId: instance,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const { bootstrapService } = await import('@mlr/runtime');
  const { IndexingModule } = await import('./indexing.module.js');
  await bootstrapService({
    service: 'indexing',
    instance,
    config,
    telemetry,
    module: IndexingModule.forRoot(config),
    natsTransport: true,
  });
}

main().catch(exitOnStartupFailure('indexing'));
