import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { testTelemetry, type ReadableSpan } from '../src/testing';

/**
 * The lean request path (lean-http.ts) on a bare Node server, no framework:
 * what a request that arrives gets, and what a caller can and can not make
 * it record. The test harness runs the default instrumentations, so the lean
 * path is the one that traces these requests.
 */
describe('the lean request path', () => {
  let server: http.Server;
  let port: number;
  let answer: (request: http.IncomingMessage, response: http.ServerResponse) => void;

  beforeEach(async () => {
    testTelemetry.reset();
    answer = (_request, response) => response.end('ok');
    server = http.createServer((request, response) => answer(request, response));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => new Promise((resolve) => server.close(resolve)));

  /**
   * One request on a raw socket: the test's own fetch would be traced by the
   * undici instrumentation, and would write its own traceparent.
   */
  async function send(target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> {
    const socket = connect(port, '127.0.0.1');
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.resume();
    await once(socket, 'close');
  }

  /** The SERVER spans exported so far, waiting a little for the one that ends on `close`. */
  async function serverSpans(count: number): Promise<ReadableSpan[]> {
    for (let waited = 0; waited < 2000; waited += 20) {
      const spans = testTelemetry.spans.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
      if (spans.length >= count) return spans;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return testTelemetry.spans.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
  }

  it('records a SERVER span with the stable HTTP attributes, the query redacted where it signs', async () => {
    await send('/things?sig=secret&page=2', { 'User-Agent': 'probe/1' });
    const [span] = await serverSpans(1);
    assert.ok(span);
    assert.equal(span.instrumentationScope.name, '@glassbox/telemetry/http-lean');
    assert.equal(span.name, 'GET');
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      {
        method: span.attributes['http.request.method'],
        status: span.attributes['http.response.status_code'],
        path: span.attributes['url.path'],
        query: span.attributes['url.query'],
        server: span.attributes['server.address'],
        port: span.attributes['server.port'],
        client: span.attributes['client.address'],
        agent: span.attributes['user_agent.original'],
      },
      {
        method: 'GET',
        status: 200,
        path: '/things',
        query: 'sig=REDACTED&page=2',
        server: '127.0.0.1',
        port,
        client: '127.0.0.1',
        agent: 'probe/1',
      },
    );
  });

  it('marks a 5xx answer as an error, with error.type', async () => {
    answer = (_request, response) => {
      response.statusCode = 503;
      response.end();
    };
    await send('/');
    const [span] = await serverSpans(1);
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes['error.type'], '503');
  });

  it('continues a sampled caller, and records nothing under an unsampled one', async () => {
    const traceId = 'ab'.repeat(16);
    await send('/', { traceparent: `00-${traceId}-${'cd'.repeat(8)}-01` });
    const [span] = await serverSpans(1);
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.parentSpanContext?.spanId, 'cd'.repeat(8));

    testTelemetry.reset();
    await send('/', { traceparent: `00-${'ef'.repeat(16)}-${'cd'.repeat(8)}-00` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(testTelemetry.spans.getFinishedSpans(), []);
  });

  it('traces no probe or scrape', async () => {
    for (const path of ['/healthz', '/readyz?verbose=1', '/metrics', '/otlp/v1/traces']) await send(path);
    await send('/traced');
    const [span] = await serverSpans(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(
      testTelemetry.spans.getFinishedSpans().map((s) => s.attributes['url.path']),
      ['/traced'],
    );
    assert.equal(span?.attributes['url.path'], '/traced');
  });

  it('ends the span of a request whose caller went away before the answer', async () => {
    let arrived!: () => void;
    const seen = new Promise<void>((resolve) => (arrived = resolve));
    answer = () => arrived(); // never answers
    const socket = connect(port, '127.0.0.1');
    socket.write(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await seen;
    socket.destroy();
    const [span] = await serverSpans(1);
    assert.ok(span, 'the span of the abandoned request was never ended');
    assert.equal(span.attributes['url.path'], '/slow');
  });

  it('names the span of a method the conventions do not know HTTP, never the raw method', async () => {
    await send('/cache', {}, 'PURGE');
    const [span] = await serverSpans(1);
    assert.equal(span?.name, 'HTTP');
    assert.equal(span?.attributes['http.request.method'], '_OTHER');
    assert.equal(span?.attributes['http.request.method_original'], 'PURGE');
  });
});
