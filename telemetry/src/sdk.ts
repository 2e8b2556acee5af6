import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { buildInstrumentations } from './instrumentations';
import { registerTelemetryShutdown } from './lifecycle';
import { buildResource } from './resource';

/**
 * Starts the OpenTelemetry NodeSDK. Exporters, sampler and propagators come
 * from the standard OTEL_* variables (NodeSDK reads them); by default traces,
 * metrics and logs all go over OTLP/HTTP (protobuf) to OTEL_EXPORTER_OTLP_ENDPOINT.
 *
 * `overrides` exists for the test harness, which swaps the exporters for
 * in-memory ones while keeping the same instrumentation and resource.
 */
export function startTelemetry(overrides: Partial<NodeSDKConfiguration> = {}): NodeSDK {
  const sdk = new NodeSDK({
    resource: buildResource(),
    instrumentations: buildInstrumentations(),
    ...overrides,
  });
  sdk.start();
  registerTelemetryShutdown(() => sdk.shutdown());
  return sdk;
}
