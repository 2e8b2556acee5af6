/**
 * How the public edge treats the trace context a caller sends (edge.ts
 * applies it; docs/edge.md weighs the choices):
 *
 *   continue  keep the caller's trace id (a page of the same site joins its trace)
 *   link      start a new trace; the caller's context becomes a span link
 *   ignore    start a new trace; the caller's context is forgotten
 *
 * This file loads nothing of the SDK, so the preload can check the variable
 * even in a process started with OTEL_SDK_DISABLED=true.
 */
export const EDGE_TRACE_POLICIES = ['continue', 'link', 'ignore'] as const;
export type EdgeTracePolicy = (typeof EDGE_TRACE_POLICIES)[number];

/**
 * EDGE_TRACE_POLICY, which only the gateway is given. Unset: the process is
 * not an edge (undefined) and trusts trace headers like any service behind
 * the gateway. A value that is not a policy throws, naming the variable.
 */
export function edgeTracePolicyFrom(environment: NodeJS.ProcessEnv = process.env): EdgeTracePolicy | undefined {
  const value = environment.EDGE_TRACE_POLICY?.trim();
  if (value === undefined || value === '') return undefined;
  if ((EDGE_TRACE_POLICIES as readonly string[]).includes(value)) return value as EdgeTracePolicy;
  throw new Error(`EDGE_TRACE_POLICY: expected one of ${EDGE_TRACE_POLICIES.join(', ')}; got "${value}"`);
}
