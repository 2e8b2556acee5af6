/**
 * The page's OpenTelemetry setup: service `web`, spans batched and sent as
 * OTLP/HTTP to the gateway's /otlp/v1/traces (same origin: no CORS, and the
 * collector stays unpublished), W3C trace context on every same-origin fetch,
 * so the gateway continues the trace a click started.
 *
 * SDK 3 serves the browser from the same package as Node
 * (@opentelemetry/sdk-trace: TracerProvider, StackContextManager); the
 * user-interaction instrumentation is still on the 2.x line and needs zone.js,
 * so the one click that matters, "Place order", gets its span from the page
 * itself (main.ts), with the order's meaning on it.
 */
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals';

export const SERVICE_NAME = 'web';

export function startTelemetry(): void {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': SERVICE_NAME,
      'service.namespace': 'glassbox',
      'service.version': '0.1.0',
    }),
    spanProcessors: [
      // One second: a learner who clicks and then opens Jaeger should find the browser's spans already there.
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: '/otlp/v1/traces' }),
        scheduledDelayMillis: 1_000,
        maxExportBatchSize: 64,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new StackContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  registerInstrumentations({
    instrumentations: [
      new DocumentLoadInstrumentation(),
      new FetchInstrumentation({
        // The export of the page's own spans is not traced: it would trace itself, forever.
        ignoreUrls: [/\/otlp\/v1\//],
        clearTimingResources: true,
      }),
    ],
  });
  recordWebVitals();
}

/**
 * Core Web Vitals, from the web-vitals package (kept by Chrome's team), as
 * one span each: `web-vital LCP` with its value and rating. Span metrics in
 * the collector turn them into series a dashboard can draw.
 */
function recordWebVitals(): void {
  const tracer = trace.getTracer('glassbox-web-vitals');
  const record = (metric: Metric) => {
    const span: Span = tracer.startSpan(`web-vital ${metric.name}`, {
      attributes: {
        'web_vital.name': metric.name,
        'web_vital.value': metric.value,
        'web_vital.rating': metric.rating,
        'web_vital.navigation_type': metric.navigationType,
      },
    });
    span.end();
  };
  for (const observe of [onCLS, onFCP, onINP, onLCP, onTTFB]) observe(record);
}
