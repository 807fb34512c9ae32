import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  instanceId: string;
  /** OTLP/HTTP endpoint for traces (e.g. an OpenTelemetry Collector); traces are off without it. */
  otlpEndpoint?: string;
}

export interface Telemetry {
  readonly meter: Meter;
  readonly tracer: Tracer;
  /** Serves the Prometheus text exposition of every metric of this process. */
  handleMetricsRequest(request: IncomingMessage, response: ServerResponse): void;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry for one process: metrics exposed for Prometheus (scraped from the service's
 * own HTTP port at /metrics) and traces exported over OTLP/HTTP when an endpoint is configured.
 * Call it first in main.ts, before the rest of the app is imported.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const spanProcessors: SpanProcessor[] = options.otlpEndpoint
    ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }))]
    : [];
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion ?? '0.1.0',
      'service.instance.id': options.instanceId,
    }),
    metricReaders: [prometheus],
    spanProcessors,
    instrumentations: [],
  });
  sdk.start();
  return {
    meter: metrics.getMeter(options.serviceName),
    tracer: trace.getTracer(options.serviceName),
    handleMetricsRequest: (request, response) => prometheus.getMetricsRequestHandler(request, response),
    shutdown: () => sdk.shutdown(),
  };
}
