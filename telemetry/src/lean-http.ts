import { errorMonitor } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import { applyEdgePolicy, edgeLinks, traceresponse, type EdgeGate } from './edge';

/**
 * The lean server-request path: one span per incoming HTTP request, at a
 * fraction of what the stock http + koa instrumentations cost (docs/overhead.md
 * has the figures). Four choices make it cheap; each is a cut a reader can
 * apply to their own service:
 *
 * 1. The sampling decision comes first. Only the trace context is read from
 *    the headers before it; an unsampled request gets the SDK's non-recording
 *    span, is run inside one context switch, and costs nothing else: no
 *    attributes are computed, no listener is added.
 * 2. One wrap of `Server.prototype.emit`, the way the stock instrumentation
 *    (and other tracers, such as Datadog's) enter a request, because it is
 *    the only point where the request's handler can be run inside the span's
 *    context. Node's `http.server.request.start` diagnostics channel fires
 *    at the same moment, but a subscriber can not change the context the
 *    handler then runs in.
 * 3. No rebinding of `req` and `res`. The stock path binds both emitters to
 *    the span's context, which replaces their listener methods on every
 *    request. A Koa app's middleware is async functions, whose continuations
 *    keep the context by themselves; only callbacks added to `req`/`res`
 *    would lose it, and glassbox adds none.
 * 4. The span ends from one `close` listener on the response (Node emits it
 *    after `finish`, and also when the caller goes away first).
 *
 * The route template and the final span name (`GET /users/:id`) come from the
 * app (traceRoute(), in metrics.ts): the router span that the stock Koa
 * instrumentation adds is folded into the server span. It lasted as long as
 * its parent and carried only `http.route`, which the server span carries too,
 * so a learner loses nothing reading the trace and every request saves a span.
 *
 * The stock instrumentation reads `Forwarded` and `X-Forwarded-*` for
 * `server.address` and `client.address`. This one does not: in glassbox no
 * proxy stands in front of the services, so those headers would only be a
 * caller's claim (the test of the two paths lists it as a deliberate
 * difference).
 */
export const LEAN_HTTP_NAME = 'http-lean';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** Query parameters the stock instrumentation redacts by default (signed URLs). */
const REDACTED_QUERY = new Set(['sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature']);

/** Where traceRoute() (route.ts) finds the server span of a sampled request, to name it. */
export const LEAN_SERVER_SPAN = createContextKey('glassbox lean server span');
export interface LeanServerSpan {
  span: Span;
  /** The span's name before the route is known: the method, or HTTP for one the conventions do not know. */
  method: string;
}

type Emit = (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;

export interface LeanHttpConfig extends InstrumentationConfig {
  /** Requests that are not traced at all (probes, scrapes): nothing below them is either. */
  ignore?: (request: IncomingMessage) => boolean;
  /** Which requests came through the public edge (edge.ts). */
  edge?: EdgeGate;
}

export class LeanHttpServerInstrumentation implements Instrumentation<LeanHttpConfig> {
  readonly instrumentationName = '@glassbox/telemetry/http-lean';
  readonly instrumentationVersion = '1.0.0';
  private tracer: Tracer = trace.getTracer(this.instrumentationName, this.instrumentationVersion);
  private original: Emit | undefined;
  /** The headers the propagators read: a request with none of them has no parent to extract. */
  private traceHeaders: string[] = [];

  constructor(private config: LeanHttpConfig = {}) {}

  setTracerProvider(provider: TracerProvider): void {
    this.tracer = provider.getTracer(this.instrumentationName, this.instrumentationVersion);
  }

  setMeterProvider(_provider: MeterProvider): void {
    // No OTLP metric here: the request duration is prom-client's histogram
    // and the span metrics the collector derives (docs/overhead.md).
  }

  setConfig(config: LeanHttpConfig): void {
    this.config = config;
  }

  getConfig(): LeanHttpConfig {
    return this.config;
  }

  enable(): void {
    if (this.original) return;
    // The prototype's own emit, taken once to be called from the wrap.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = http.Server.prototype.emit as Emit;
    this.original = original;
    this.traceHeaders = [...new Set([...propagation.fields(), 'traceparent', 'tracestate', 'baggage'])];
    const handle = this.handle.bind(this);
    // A 'request' event always carries exactly (request, response): no rest
    // parameters and spreads on the path every request takes.
    http.Server.prototype.emit = function emit(this: http.Server, event: string | symbol, ...args: unknown[]) {
      if (event !== 'request') return original.apply(this, [event, ...args]);
      return handle(this, original, args[0] as IncomingMessage, args[1] as ServerResponse);
    } as typeof http.Server.prototype.emit;
  }

  disable(): void {
    if (!this.original) return;
    http.Server.prototype.emit = this.original as typeof http.Server.prototype.emit;
    this.original = undefined;
  }

  private handle(server: http.Server, emit: Emit, request: IncomingMessage, response: ServerResponse): boolean {
    const run = () => emit.call(server, 'request', request, response);
    if (this.config.ignore?.(request)) return context.with(suppressTracing(ROOT_CONTEXT), run);

    // Before the context is read: the edge removes what it does not trust.
    const edge = this.config.edge && applyEdgePolicy(this.config.edge, request);
    const parent = this.carriesContext(request) ? propagation.extract(ROOT_CONTEXT, request.headers) : ROOT_CONTEXT;
    const method = KNOWN_METHODS.has(request.method ?? 'GET') ? (request.method ?? 'GET') : 'HTTP';
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: edge?.attributes, links: edge && edgeLinks(edge) },
      parent,
    );
    if (edge) response.setHeader('traceresponse', traceresponse(span));
    let active = trace.setSpan(parent, span);
    if (span.isRecording()) {
      recordRequest(span, request, response);
      active = active.setValue(LEAN_SERVER_SPAN, { span, method } satisfies LeanServerSpan);
    }
    try {
      return context.with(active, run);
    } catch (error) {
      failed(span, error);
      throw error;
    }
  }

  private carriesContext(request: IncomingMessage): boolean {
    for (const header of this.traceHeaders) if (request.headers[header] !== undefined) return true;
    return false;
  }
}

/** A sampled request: its attributes now, and the rest when the response is done. */
function recordRequest(span: Span, request: IncomingMessage, response: ServerResponse): void {
  span.setAttributes(requestAttributes(request));
  response.once(errorMonitor, (error) => failed(span, error));
  response.once('close', () => {
    // Already ended by a failure (an 'error' on the response, or a throw from the handler).
    if (!span.isRecording()) return;
    const status = response.statusCode;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500 || status < 100) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  });
}

function failed(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const thrown = error instanceof Error ? error : new Error(String(error));
  span.recordException(thrown);
  span.setAttribute('error.type', thrown.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: thrown.message });
  span.end();
}

/** The stable HTTP semantic conventions for a server span, from what arrived. */
function requestAttributes(request: IncomingMessage): Attributes {
  const method = request.method ?? 'GET';
  const known = KNOWN_METHODS.has(method);
  const target = request.url ?? '/';
  const queryAt = target.indexOf('?');
  const { remoteAddress, remotePort } = request.socket;
  const attributes: Attributes = {
    'http.request.method': known ? method : '_OTHER',
    'url.scheme': 'http',
    'url.path': queryAt === -1 ? target : target.slice(0, queryAt),
    'network.protocol.version': request.httpVersion,
    'network.peer.address': remoteAddress,
    'network.peer.port': remotePort,
    'client.address': remoteAddress,
    'user_agent.original': request.headers['user-agent'],
  };
  if (!known) attributes['http.request.method_original'] = method;
  if (queryAt !== -1 && queryAt < target.length - 1) attributes['url.query'] = redactedQuery(target.slice(queryAt + 1));
  const host = request.headers.host;
  if (host) Object.assign(attributes, serverOf(host));
  return attributes;
}

/** `server.address` and `server.port` from a Host header: `name`, `name:port`, `[v6]`, `[v6]:port`. */
function serverOf(host: string): Attributes {
  const portAt = host.lastIndexOf(':');
  const hasPort = portAt > host.lastIndexOf(']');
  const port = hasPort ? Number(host.slice(portAt + 1)) : 80;
  return {
    'server.address': hasPort ? host.slice(0, portAt) : host,
    ...(Number.isInteger(port) && port > 0 && port < 65536 ? { 'server.port': port } : {}),
  };
}

function redactedQuery(query: string): string {
  const parameters = new URLSearchParams(query);
  let redacted = false;
  for (const name of REDACTED_QUERY) {
    if (parameters.has(name)) {
      parameters.set(name, 'REDACTED');
      redacted = true;
    }
  }
  return redacted ? parameters.toString() : query;
}
