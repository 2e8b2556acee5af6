import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { EdgeGate } from './edge';
import { buildInstrumentations } from './instrumentations';
import { registerTelemetryShutdown } from './lifecycle';
import { buildResource } from './resource';
import { EdgeSampler, samplersFromEnvironment } from './sampler';

/**
 * Starts the OpenTelemetry NodeSDK. Exporters, sampler and propagators come
 * from the standard OTEL_* variables (NodeSDK reads them); by default traces,
 * metrics and logs all go over OTLP/HTTP (protobuf) to OTEL_EXPORTER_OTLP_ENDPOINT.
 *
 * `edge` is given to the process that takes requests from outside (the
 * gateway, see edge.ts): its server spans start under the edge trace policy
 * and the edge's own sampling decision. Every other process keeps NodeSDK's
 * own sampler, exactly as OTEL_TRACES_SAMPLER configures it.
 *
 * `overrides` exists for the test harness, which swaps the exporters for
 * in-memory ones while keeping the same instrumentation and resource.
 */
export function startTelemetry(overrides: Partial<NodeSDKConfiguration> = {}, edge?: EdgeGate): NodeSDK {
  const sdk = new NodeSDK({
    resource: buildResource(),
    instrumentations: buildInstrumentations(edge),
    ...(edge ? { sampler: edgeSampler() } : {}),
    ...overrides,
  });
  sdk.start();
  registerTelemetryShutdown(() => sdk.shutdown());
  return sdk;
}

function edgeSampler(): EdgeSampler {
  const { root, standard } = samplersFromEnvironment();
  return new EdgeSampler(root, standard);
}
