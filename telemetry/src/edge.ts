import type { IncomingMessage } from 'node:http';
import {
  isSpanContextValid,
  propagation,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import type { HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import type { EdgeTracePolicy } from './edge-policy';

/**
 * The public edge: the one process that takes requests from outside (the
 * gateway). Whatever trace headers a caller sends are a claim, not a fact:
 * a caller could pick the trace id, force sampling on (`-01`) or off (`-00`)
 * and smuggle `baggage` into every service, row and message behind the edge.
 * So the server span of a request that came in through the edge starts under
 * the edge trace policy (edge-policy.ts): `tracestate` and `baggage` are
 * dropped whatever the policy, the caller's trace id is kept only under
 * `continue`, and the sampling decision is the edge's own (EdgeSampler).
 */

/** On the server span of every edge request; EdgeSampler looks for it. */
export const EDGE_POLICY_ATTRIBUTE = 'glassbox.edge.trace_policy';

/**
 * Which incoming requests came through the edge, and under which policy. The
 * preload of a gateway answers "all of them"; the test harness, which runs
 * every service in one process, answers for one port.
 */
export interface EdgeGate {
  policyFor(request: IncomingMessage): EdgeTracePolicy | undefined;
}

/** What the edge decided for one request, before its span starts. */
export interface EdgeRequest {
  policy: EdgeTracePolicy;
  /** The caller's traceparent as it arrived, for the span link of the `link` policy. */
  offered: string | undefined;
  /** For the server span's start: they mark it for EdgeSampler. */
  attributes: Attributes;
}

/**
 * Applies the edge policy to one incoming request, BEFORE its context is read
 * from the headers: removes what the policy does not trust from them. Every
 * header the configured propagators read (OTEL_PROPAGATORS), plus the two W3C
 * ones whatever they are: the extraction that follows sees only what is left,
 * which under `continue` is the traceparent alone. Undefined for a request
 * that did not come through the edge.
 */
export function applyEdgePolicy(gate: EdgeGate, request: IncomingMessage): EdgeRequest | undefined {
  const policy = gate.policyFor(request);
  if (!policy) return undefined;
  const offered = request.headers.traceparent;
  for (const field of [...propagation.fields(), 'tracestate', 'baggage']) {
    if (!(policy === 'continue' && field === 'traceparent')) delete request.headers[field];
  }
  return {
    policy,
    offered: typeof offered === 'string' ? offered : undefined,
    attributes: { [EDGE_POLICY_ATTRIBUTE]: policy },
  };
}

/** The span link to the caller's own trace, under the `link` policy. */
export function edgeLinks(edge: EdgeRequest): Link[] {
  if (edge.policy !== 'link' || edge.offered === undefined) return [];
  const caller = parseTraceParent(edge.offered);
  return caller && isSpanContextValid(caller) ? [{ context: { ...caller, isRemote: true } }] : [];
}

/**
 * The stock HTTP instrumentation's hooks that apply the policy. They run in
 * this order for each incoming request, and the order is what makes them work:
 *   startIncomingSpanHook  BEFORE the context is extracted from the headers:
 *                          applyEdgePolicy
 *   requestHook            after the span started: the span link (`link`)
 *   responseHook           after the span started: the `traceresponse` header
 * (The lean path, lean-http.ts, does the same in its own order.)
 */
export function edgeHooks(
  gate: EdgeGate,
): Pick<HttpInstrumentationConfig, 'startIncomingSpanHook' | 'requestHook' | 'responseHook'> {
  const edgeRequests = new WeakMap<IncomingMessage, EdgeRequest>();
  return {
    startIncomingSpanHook(request) {
      const edge = applyEdgePolicy(gate, request);
      if (!edge) return {};
      edgeRequests.set(request, edge);
      return edge.attributes;
    },
    requestHook(span, request) {
      const edge = edgeRequests.get(request as IncomingMessage);
      for (const link of edge ? edgeLinks(edge) : []) span.addLink(link);
    },
    responseHook(span, response) {
      if (!('req' in response) || !edgeRequests.has(response.req)) return;
      response.setHeader('traceresponse', traceresponse(span));
    },
  };
}

/**
 * W3C Trace Context level 2's response header: the trace the request was
 * recorded under, the server span's id, and whether it was sampled. A caller
 * whose trace id the edge did not keep learns here where to look.
 */
export function traceresponse(span: Span): string {
  const { traceId, spanId, traceFlags }: SpanContext = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}
