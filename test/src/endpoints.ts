/**
 * Where the end-to-end suite finds the running stack. Defaults are the host
 * ports that both `docker compose up` and the native stack publish, so the
 * suite runs unchanged against either; each can be overridden by a variable.
 */
export const endpoints = {
  gateway: process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080',
  jaeger: process.env.JAEGER_URL ?? 'http://127.0.0.1:16686',
  prometheus: process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090',
  loki: process.env.LOKI_URL ?? 'http://127.0.0.1:3100',
  collectorMetrics: process.env.COLLECTOR_METRICS_URL ?? 'http://127.0.0.1:8888/metrics',
  rabbitmqManagement: process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672',
  /** The services themselves: only the fault scenarios need them (their /admin/faults). */
  services: {
    users: process.env.USERS_URL ?? 'http://127.0.0.1:8081',
    products: process.env.PRODUCTS_URL ?? 'http://127.0.0.1:8082',
    orders: process.env.ORDERS_URL ?? 'http://127.0.0.1:8083',
    notifications: process.env.NOTIFICATIONS_URL ?? 'http://127.0.0.1:8084',
  },
};

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** One span as Jaeger's HTTP API (/api/traces/{id}) returns it. */
export interface JaegerSpan {
  spanID: string;
  /** Microseconds. */
  duration: number;
  operationName: string;
  processID: string;
  references: Array<{ refType: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export async function jaegerTrace(traceId: string): Promise<JaegerTrace | undefined> {
  const { status, body } = await getJson<{ data?: JaegerTrace[] }>(`${endpoints.jaeger}/api/traces/${traceId}`);
  return status === 200 ? body.data?.[0] : undefined;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(query: string): Promise<PromSample[]> {
  const { status, body } = await getJson<{ status: string; data: { result: PromSample[] }; error?: string }>(
    `${endpoints.prometheus}/api/v1/query?query=${encodeURIComponent(query)}`,
  );
  if (status !== 200 || body.status !== 'success')
    throw new Error(`PromQL ${query} failed: ${status} ${body.error ?? ''}`);
  return body.data.result;
}

/** A W3C traceparent with fresh random ids: the suite picks the trace id, so it knows where to look. */
export function newTraceparent(): { traceId: string; traceparent: string } {
  const hex = (bytes: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  return { traceId, traceparent: `00-${traceId}-${hex(8)}-01` };
}
