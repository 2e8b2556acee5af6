/**
 * The program behind the conformance test (lean-path.test.ts): it runs the
 * users service and the gateway in this process, under the test harness's
 * telemetry (in-memory exporters, the instrumentations that
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS names, the lean path when it is unset),
 * sends the same requests every time, and prints each request's span tree as
 * JSON. The requests are written on raw sockets, so the caller itself is not
 * instrumented on either path, and each carries a traceparent of its own
 * (the gateway runs the `continue` edge policy) so its trace is found by id.
 */
import { connect } from 'node:net';
import { SpanStatusCode, type AttributeValue } from '@opentelemetry/api';
import { testTelemetry, type ReadableSpan } from '@glassbox/telemetry/testing';
import { captureLogs, startOnFreePort } from '@glassbox/service-kit/testing';
import { readConfig as readGatewayConfig } from '@glassbox/gateway/config';
import { buildGatewayService } from '@glassbox/gateway';
import { readConfig as readUsersConfig } from '@glassbox/users/config';
import { buildUsersService } from '@glassbox/users';

/** The requests, in order: creation, success, not found, no route, a failing dependency, a bad method, a query. */
export const REQUESTS = [
  'POST /api/users {"name":"Ada","email":"ada@example.org"}',
  'GET /api/users/1',
  'GET /api/users/999',
  'GET /api/nowhere',
  'GET /api/products/1',
  'PATCH /api/users/1',
  'GET /api/users?limit=2&offset=0',
];

/** What the test compares: a span and its children, without ids or times. */
export interface SpanNode {
  name: string;
  kind: number;
  status: 'UNSET' | 'OK' | 'ERROR';
  attributes: Record<string, AttributeValue>;
  exceptions: number;
  /** Where the instrumentation came from: tells the stock Koa router span apart. */
  scope: string;
  children: SpanNode[];
}

const COMPARED = [
  'http.route',
  'http.request.method',
  'http.response.status_code',
  'url.path',
  'url.query',
  'server.address',
  'server.port',
  'client.address',
  'user_agent.original',
  'error.type',
  'koa.type',
];

function node(span: ReadableSpan, all: ReadableSpan[]): SpanNode {
  const id = span.spanContext().spanId;
  const attributes: SpanNode['attributes'] = {};
  for (const name of COMPARED) {
    const value = span.attributes[name];
    if (value !== undefined) attributes[name] = value;
  }
  return {
    name: span.name,
    kind: span.kind,
    status: SpanStatusCode[span.status.code] as SpanNode['status'],
    attributes,
    exceptions: span.events.filter((event) => event.name === 'exception').length,
    scope: span.instrumentationScope.name,
    children: all
      .filter((child) => child.parentSpanContext?.spanId === id)
      .map((child) => node(child, all))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function rawRequest(port: number, line: string, traceparent: string): Promise<number> {
  const [method, path, body] = line.split(' ', 3) as [string, string, string | undefined];
  const head = [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'User-Agent: conformance/1.0',
    `traceparent: ${traceparent}`,
    'Connection: close',
    ...(body ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`] : []),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`${line}: no answer within 5 s`)));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    // Written, not ended: a half-closed socket is a caller that went away (Connection: close ends it).
    socket.write(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`);
  });
}

/** Waits until the trace's span count has not changed for 100 ms (at most 3 s). */
async function settled(traceId: string): Promise<ReadableSpan[]> {
  let last = -1;
  for (let waited = 0; waited < 3000; waited += 100) {
    const count = testTelemetry.trace(traceId).length;
    if (count === last && count > 0) break;
    last = count;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return testTelemetry.trace(traceId);
}

async function main(): Promise<void> {
  const silent = captureLogs('conformance').logger;
  const users = await startOnFreePort(await buildUsersService(readUsersConfig({ STORAGE: 'memory' }), silent));
  const gateway = await startOnFreePort(
    await buildGatewayService(
      readGatewayConfig({ USERS_URL: users.url, ORDERS_URL: 'http://127.0.0.1:1', PRODUCTS_URL: 'http://127.0.0.1:1' }),
      silent,
    ),
  );
  const port = Number(new URL(gateway.url).port);
  testTelemetry.edge({ policy: 'continue', port });
  const trees: Array<{ request: string; status: number; roots: SpanNode[] }> = [];
  try {
    for (const [index, request] of REQUESTS.entries()) {
      const traceId = (index + 1).toString(16).padStart(32, 'c');
      const status = await rawRequest(port, request, `00-${traceId}-${'a'.repeat(16)}-01`);
      const spans = await settled(traceId);
      const roots = spans.filter(
        (span) => !spans.some((p) => p.spanContext().spanId === span.parentSpanContext?.spanId),
      );
      trees.push({ request, status, roots: roots.map((root) => node(root, spans)) });
    }
  } finally {
    await gateway.stop();
    await users.stop();
  }
  process.stdout.write(`${JSON.stringify(trees)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`conformance: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
