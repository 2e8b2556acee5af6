import assert from 'node:assert/strict';
import { request } from 'node:http';
import Router from '@koa/router';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createHttpMetrics } from '@glassbox/telemetry';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { createApp, type ManagementOptions } from '../src/app';
import { MAX_BODY_BYTES } from '../src/body';
import { conflict, dependencyUnavailable } from '../src/errors';
import { FaultSwitches } from '../src/faults';
import { httpListener, managementListener } from '../src/http-listener';
import type { Listener } from '../src/service';
import type { AppState } from '../src/state';
import { call, captureLogs, type Reply } from '../src/testing';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADMIN_TOKEN = 'a-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The routes of a small service: one of each kind of answer the kit has to turn into JSON. */
function exampleRoutes(): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/things/:id', function getThing(ctx) {
    ctx.body = { id: ctx.params.id };
  });
  router.post('/things', function addThing(ctx) {
    ctx.status = 201;
    ctx.body = { received: ctx.request.body ?? null };
  });
  router.get('/refused', function refuse() {
    throw conflict('thing 7 is already reserved', { thing: 7 });
  });
  router.get('/broken', function breakDown() {
    throw new Error('secret: the connection string was wrong');
  });
  router.get('/database', function needDatabase() {
    throw dependencyUnavailable('postgres', new Error('connect ECONNREFUSED 127.0.0.1:5432'));
  });
  return router;
}

/**
 * POSTs `chunks` without a Content-Length (Node then sends them chunked), so
 * the server learns the body's size only by reading it.
 */
function postChunked(base: string, path: string, chunks: Buffer[]): Promise<{ status: number; body: Reply['body'] }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${base}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    for (const chunk of chunks) outgoing.write(chunk);
    outgoing.end();
  });
}

describe('createApp, served on a real HTTP server', () => {
  let logs: ReturnType<typeof captureLogs>;
  let listeners: Listener[];

  beforeEach(() => {
    logs = captureLogs('kit');
    listeners = [];
  });
  afterEach(async () => {
    for (const listener of listeners) await listener.stop(1000);
  });

  /** Starts createApp with the example routes on a free port; answers its base URL. */
  async function serve(metrics = createHttpMetrics()): Promise<string> {
    const app = createApp({ logger: logs.logger, routes: exampleRoutes(), metrics });
    const listener = httpListener({ app, logger: logs.logger, config: { HOST: '127.0.0.1', PORT: 0 } });
    const port = await listener.start(0);
    listeners.push(listener);
    return `http://127.0.0.1:${port}`;
  }

  /** Starts the management app (with `options`) on a free port; answers its base URL. */
  async function serveManagement(options: Partial<ManagementOptions> = {}): Promise<string> {
    const { adminToken, ...rest } = options;
    const listener = managementListener({
      logger: logs.logger,
      metrics: createHttpMetrics(),
      ...rest,
      config: { HOST: '127.0.0.1', MANAGEMENT_PORT: 0, ADMIN_TOKEN: adminToken },
    });
    const port = await listener.start(0);
    listeners.push(listener);
    return `http://127.0.0.1:${port}`;
  }

  const errorLines = () => logs.lines().filter((line) => line.level === 50);

  describe('JSON request bodies', () => {
    it('hands a JSON body to the route, up to MAX_BODY_BYTES', async () => {
      const url = await serve();
      const text = 'x'.repeat(MAX_BODY_BYTES - 2);

      const reply = await call(url, 'POST', '/things', { raw: JSON.stringify(text) });

      assert.equal(reply.status, 201);
      assert.equal(reply.body.received, text);
    });

    it('refuses a body whose Content-Length is over MAX_BODY_BYTES with 413', async () => {
      const url = await serve();

      const reply = await call(url, 'POST', '/things', { raw: JSON.stringify('x'.repeat(MAX_BODY_BYTES - 1)) });

      assert.equal(reply.status, 413);
      assert.equal(reply.body.error.code, 'payload_too_large');
      assert.equal(reply.body.error.message, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    });

    it('refuses a chunked body with 413 once what it read passes MAX_BODY_BYTES', async () => {
      const url = await serve();
      const chunk = Buffer.alloc(16 * 1024, 'x');

      const reply = await postChunked(url, '/things', [chunk, chunk, chunk, chunk, chunk]);

      assert.equal(reply.status, 413);
      assert.equal(reply.body.error.code, 'payload_too_large');
    });

    it('reads a chunked body that stays under the limit', async () => {
      const url = await serve();

      const reply = await postChunked(url, '/things', [Buffer.from('{"name":'), Buffer.from('"teapot"}')]);

      assert.equal(reply.status, 201);
      assert.deepEqual(reply.body.received, { name: 'teapot' });
    });

    it('refuses a body that is not JSON with 415, naming the type it got', async () => {
      const url = await serve();

      const reply = await call(url, 'POST', '/things', { raw: 'name=teapot', contentType: 'text/plain' });

      assert.equal(reply.status, 415);
      assert.equal(reply.body.error.code, 'unsupported_media_type');
      assert.equal(reply.body.error.message, 'expected Content-Type application/json, got text/plain');
    });

    it('refuses malformed JSON with 400', async () => {
      const url = await serve();

      const reply = await call(url, 'POST', '/things', { raw: '{"name":' });

      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.code, 'malformed_json');
      assert.match(reply.body.error.message, /^request body is not valid JSON( \(at position \d+\))?$/);
    });
  });

  describe('requests no route takes', () => {
    it('answers a wrong method on a known path with 405, the Allow header and a JSON error', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/things');

      assert.equal(reply.status, 405);
      assert.equal(reply.headers.get('allow'), 'POST');
      assert.deepEqual(reply.body, {
        error: { code: 'method_not_allowed', message: 'GET is not allowed on /things; allowed: POST' },
        request_id: reply.headers.get('x-request-id'),
      });
    });

    it('answers a method the router has never heard of (PROPFIND) with 405 too, not 501', async () => {
      const url = await serve();

      const reply = await call(url, 'PROPFIND', '/things/1');

      assert.equal(reply.status, 405);
      assert.equal(reply.body.error.code, 'method_not_allowed');
      assert.match(reply.body.error.message, /^PROPFIND is not allowed on \/things\/1; allowed: .*GET/);
    });

    it('answers a path no route knows with a JSON 404', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/no/such/thing');

      assert.equal(reply.status, 404);
      assert.deepEqual(reply.body, {
        error: { code: 'not_found', message: 'no route for GET /no/such/thing' },
        request_id: reply.headers.get('x-request-id'),
      });
    });
  });

  describe('request ids', () => {
    it('echoes a valid x-request-id, in the header, the error body and the log', async () => {
      const url = await serve();
      const offered = 'checkout:4f2a.retry-1_b';

      const reply = await call(url, 'GET', '/refused', { headers: { 'x-request-id': offered } });

      assert.equal(reply.headers.get('x-request-id'), offered);
      assert.equal(reply.body.request_id, offered);
      assert.ok(logs.lines().some((line) => line.request_id === offered && line.code === 'conflict'));
    });

    it('makes a UUID when none is offered', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/things/1');

      assert.match(reply.headers.get('x-request-id') ?? '', UUID);
    });

    for (const [why, offered] of [
      ['too long', 'a'.repeat(129)],
      ['with characters a log line should not carry', 'id with spaces;<script>'],
    ] as const) {
      it(`replaces an x-request-id ${why} with a UUID`, async () => {
        const url = await serve();

        const reply = await call(url, 'GET', '/no/such/thing', { headers: { 'x-request-id': offered } });

        const given = reply.headers.get('x-request-id') ?? '';
        assert.match(given, UUID);
        assert.equal(reply.body.request_id, given);
      });
    }
  });

  describe('errors thrown by a route', () => {
    it('keeps the status, code, message and details of an AppError, and logs it below error level', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/refused');

      assert.equal(reply.status, 409);
      assert.deepEqual(reply.body, {
        error: { code: 'conflict', message: 'thing 7 is already reserved', details: { thing: 7 } },
        request_id: reply.headers.get('x-request-id'),
      });
      assert.deepEqual(errorLines(), []);
    });

    it('turns an unexpected throw into a generic 500, with the stack only in the log', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/broken');

      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body, {
        error: { code: 'internal', message: 'internal error' },
        request_id: reply.headers.get('x-request-id'),
      });
      const [logged, ...more] = errorLines();
      assert.equal(more.length, 0);
      assert.equal(logged?.msg, 'request failed: internal error');
      assert.equal(logged?.request_id, reply.body.request_id);
      assert.equal(logged?.status, 500);
      const err = logged?.err as { message: string; stack: string };
      assert.equal(err.message, 'secret: the connection string was wrong');
      assert.match(err.stack, /^Error: secret: the connection string was wrong\n\s+at /);
    });

    it('records an unexpected throw on the request span, with error status', async () => {
      const url = await serve();
      testTelemetry.reset();

      await call(url, 'GET', '/broken');

      const server = await eventually(() =>
        testTelemetry.spans.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER),
      );
      assert.equal(server.name, 'GET /broken');
      assert.equal(server.status.code, SpanStatusCode.ERROR);
      assert.deepEqual(
        server.events.map((event) => [event.name, event.attributes?.['exception.message']]),
        [['exception', 'secret: the connection string was wrong']],
      );
    });

    it('answers 503 naming the dependency for dependencyUnavailable, and logs it as an error', async () => {
      const url = await serve();

      const reply = await call(url, 'GET', '/database');

      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body.error, {
        code: 'dependency_unavailable',
        message: 'postgres is unavailable',
        details: { dependency: 'postgres' },
      });
      assert.equal(errorLines().length, 1);
    });
  });

  describe('health and metrics', () => {
    it('keeps /readyz, /metrics and /admin/faults off the public app: only /healthz is there', async () => {
      const url = await serve();

      assert.equal((await call(url, 'GET', '/healthz')).status, 200);
      for (const path of ['/readyz', '/metrics', '/admin/faults', '/admin/faults/slow-sql']) {
        const reply = await call(url, 'GET', path);
        assert.equal(reply.status, 404, path);
        assert.equal(reply.body.error.code, 'not_found', path);
      }
    });

    it('answers /healthz without asking any dependency', async () => {
      const url = await serveManagement({
        readiness: [{ name: 'postgres', check: () => Promise.reject(new Error('down')) }],
      });

      const reply = await call(url, 'GET', '/healthz');

      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { status: 'ok' });
    });

    it('answers /readyz 200 when every check passes', async () => {
      const url = await serveManagement({
        readiness: [
          { name: 'postgres', check: () => Promise.resolve() },
          { name: 'rabbitmq', check: () => Promise.resolve() },
        ],
      });

      const reply = await call(url, 'GET', '/readyz');

      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { ready: true, checks: { postgres: 'ok', rabbitmq: 'ok' } });
    });

    it("answers /readyz 503 with the failing check's message", async () => {
      const url = await serveManagement({
        readiness: [
          { name: 'postgres', check: () => Promise.resolve() },
          { name: 'rabbitmq', check: () => Promise.reject(new Error('not connected')) },
        ],
      });

      const reply = await call(url, 'GET', '/readyz');

      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { ready: false, checks: { postgres: 'ok', rabbitmq: 'failed: not connected' } });
    });

    it('answers /readyz 503 within the 2 s check timeout when a check hangs', async () => {
      const url = await serveManagement({
        readiness: [{ name: 'postgres', check: () => new Promise(() => undefined) }],
      });
      const started = Date.now();

      const reply = await call(url, 'GET', '/readyz');

      const waited = Date.now() - started;
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body.checks, { postgres: 'failed: postgres did not answer within 2000 ms' });
      assert.ok(waited >= 1900 && waited < 3000, `waited ${waited} ms`);
    });

    it('serves the prom-client registry it was given at /metrics, counting requests by route template', async () => {
      const metrics = createHttpMetrics();
      const url = await serve(metrics);
      const management = await serveManagement({ metrics });
      await call(url, 'GET', '/things/1');
      await call(url, 'GET', '/things/2');

      const scrape = await fetch(`${management}/metrics`);
      const text = await scrape.text();

      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers.get('content-type'), metrics.registry.contentType);
      assert.match(text, /^http_requests_total\{method="GET",route="\/things\/:id",status_code="200"\} 2/m);
      assert.match(await metrics.registry.metrics(), /route="\/things\/:id"/);
    });
  });

  describe('/admin/faults', () => {
    let faults: FaultSwitches;

    beforeEach(() => {
      faults = new FaultSwitches({ 'slow-sql': 'adds 400 ms to every query' }, logs.logger);
    });

    it('does not exist when no admin token is configured', async () => {
      const url = await serveManagement({ faults });

      const reply = await call(url, 'GET', '/admin/faults', { headers: admin });

      assert.equal(reply.status, 404);
      assert.equal(reply.body.error.code, 'not_found');
    });

    it('refuses a missing or wrong token with 401', async () => {
      const url = await serveManagement({ faults, adminToken: ADMIN_TOKEN });
      const sameLength = 'x'.repeat(ADMIN_TOKEN.length);

      const missing = await call(url, 'GET', '/admin/faults');
      const wrong = await call(url, 'GET', '/admin/faults', { headers: { authorization: `Bearer ${sameLength}` } });
      const switched = await call(url, 'PUT', '/admin/faults/slow-sql', {
        body: { enabled: true },
        headers: { authorization: 'Bearer nope' },
      });

      assert.deepEqual(
        [missing, wrong, switched].map((reply) => [reply.status, reply.body.error.code]),
        [
          [401, 'unauthorized'],
          [401, 'unauthorized'],
          [401, 'unauthorized'],
        ],
      );
      assert.equal(faults.enabled('slow-sql'), false);
    });

    it('lists the faults, all off, to a caller with the token', async () => {
      const url = await serveManagement({ faults, adminToken: ADMIN_TOKEN });

      const reply = await call(url, 'GET', '/admin/faults', { headers: admin });

      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, [{ name: 'slow-sql', enabled: false, description: 'adds 400 ms to every query' }]);
    });

    it('switches a fault on, and logs that it did', async () => {
      const url = await serveManagement({ faults, adminToken: ADMIN_TOKEN });

      const reply = await call(url, 'PUT', '/admin/faults/slow-sql', { body: { enabled: true }, headers: admin });

      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { name: 'slow-sql', enabled: true, description: 'adds 400 ms to every query' });
      assert.equal(faults.enabled('slow-sql'), true);
      assert.ok(logs.lines().some((line) => line.level === 40 && line.msg === 'fault slow-sql switched ON'));
    });

    it('refuses an unknown fault with 404 and a bad body with 400', async () => {
      const url = await serveManagement({ faults, adminToken: ADMIN_TOKEN });

      const unknown = await call(url, 'PUT', '/admin/faults/nope', { body: { enabled: true }, headers: admin });
      const bad = await call(url, 'PUT', '/admin/faults/slow-sql', { body: { enabled: 'yes' }, headers: admin });

      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.message, 'no fault named nope; known: slow-sql');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
      assert.equal(bad.body.error.details[0].field, 'body.enabled');
    });
  });
});

/** Polls `find` until it answers something: a server span ends just after its response is sent. */
async function eventually<T>(find: () => T | undefined, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`nothing found within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
