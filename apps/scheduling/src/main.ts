// Telemetry starts before anything else is loaded, so that its instrumentation sees every module.
import { exitOnStartupFailure, instanceId, loadConfig } from '@mlr/config';
import { startTelemetry } from '@mlr/telemetry';
import { schedulingConfigSchema } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig('scheduling', schedulingConfigSchema, process.env);
  const instance = instanceId(config.INSTANCE_ID);
  const telemetry = startTelemetry({
    serviceName: 'mlr-scheduling',
    instanceId: instance,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const { bootstrapService } = await import('@mlr/runtime');
  const { SchedulingModule } = await import('./scheduling.module.js');
  await bootstrapService({
    service: 'scheduling',
    instance,
    config,
    telemetry,
    module: SchedulingModule.forRoot(config),
    natsTransport: true,
  });
}

main().catch(exitOnStartupFailure('scheduling'));
