import { context, isSpanContextValid, trace, TraceFlags } from '@opentelemetry/api';

export interface TraceIds {
  trace_id: string;
  span_id: string;
}

/**
 * The ids of the span active right now, if it is real and sampled: an
 * unsampled trace is never exported, so linking to it would land on
 * "trace not found".
 */
export function activeTraceIds(): TraceIds | undefined {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  if ((spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
