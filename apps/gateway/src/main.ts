// Telemetry starts before anything else is loaded, so that its instrumentation sees every module.
import { exitOnStartupFailure, instanceId, loadConfig } from '@mlr/config';
import { startTelemetry } from '@mlr/telemetry';
import { gatewayConfigSchema } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig('gateway', gatewayConfigSchema, process.env);
  const instance = instanceId(config.INSTANCE_ID);
  const telemetry = startTelemetry({
    serviceName: 'mlr-gateway',
    instanceId: instance,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const { bootstrapService } = await import('@mlr/runtime');
  const { GatewayModule } = await import('./gateway.module.js');
  // The gateway serves HTTP only; it asks the services over NATS as a client.
  await bootstrapService({
    service: 'gateway',
    instance,
    config,
    telemetry,
    module: GatewayModule.forRoot(config),
    natsTransport: false,
  });
}

main().catch(exitOnStartupFailure('gateway'));
