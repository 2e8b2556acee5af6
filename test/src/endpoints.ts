import { port } from './ports';

/**
 * Where the end-to-end suite finds the running stack. Defaults are the host
 * ports of deploy/ports.env, which both `docker compose up` and the native
 * stack publish, so the suite runs unchanged against either; each can be
 * overridden by a variable.
 */
const local = (name: string) => `http://127.0.0.1:${port(name)}`;

export const endpoints = {
  gateway: process.env.GATEWAY_URL ?? local('GATEWAY_PORT'),
  jaeger: process.env.JAEGER_URL ?? local('JAEGER_UI_PORT'),
  prometheus: process.env.PROMETHEUS_URL ?? local('PROMETHEUS_PORT'),
  loki: process.env.LOKI_URL ?? local('LOKI_PORT'),
  collectorMetrics: process.env.COLLECTOR_METRICS_URL ?? `${local('COLLECTOR_METRICS_PORT')}/metrics`,
  rabbitmqManagement: process.env.RABBITMQ_MANAGEMENT_URL ?? local('RABBITMQ_MANAGEMENT_PORT'),
  /**
   * The services' management ports: only the fault scenarios need them (their
   * /admin/faults). The native stack listens there on 127.0.0.1; compose does
   * not publish them, so against compose the scenarios run inside the network.
   */
  management: {
    users: process.env.USERS_MANAGEMENT_URL ?? local('USERS_MANAGEMENT_PORT'),
    products: process.env.PRODUCTS_MANAGEMENT_URL ?? local('PRODUCTS_MANAGEMENT_PORT'),
    orders: process.env.ORDERS_MANAGEMENT_URL ?? local('ORDERS_MANAGEMENT_PORT'),
    notifications: process.env.NOTIFICATIONS_MANAGEMENT_URL ?? local('NOTIFICATIONS_MANAGEMENT_PORT'),
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
