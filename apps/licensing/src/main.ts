// Telemetry starts before anything else is loaded, so that its instrumentation sees every module.
import { exitOnStartupFailure, instanceId, loadConfig } from '@mlr/config';
import { startTelemetry } from '@mlr/telemetry';
import { licensingConfigSchema } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig('licensing', licensingConfigSchema, process.env);
  const instance = instanceId(config.INSTANCE_ID);
  const telemetry = startTelemetry({
    serviceName: 'mlr-licensing',
    instanceId: instance,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const { bootstrapService } = await import('@mlr/runtime');
  const { LicensingModule } = await import('./licensing.module.js');
  await bootstrapService({
    service: 'licensing',
    instance,
    config,
    telemetry,
    module: LicensingModule.forRoot(config),
    natsTransport: true,
  });
}

main().catch(exitOnStartupFailure('licensing'));
