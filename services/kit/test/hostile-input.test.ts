import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import Router from '@koa/router';
import { z } from 'zod';
import { createHttpMetrics, type HttpMetrics } from '@glassbox/telemetry';
import { createApp } from '../src/app';
import { CLIENT_CLOSED_REQUEST, jsonDepthExceeds, MAX_JSON_DEPTH } from '../src/body';
import { httpListener } from '../src/http-listener';
import { singleLineText } from '../src/inputs';
import { translatePgError } from '../src/postgres';
import type { Listener } from '../src/service';
import type { AppState } from '../src/state';
import { call, captureLogs } from '../src/testing';
import { parseInput } from '../src/validation';

/** What a caller that means harm sends, and what the kit must answer: a 4xx that says why, never a 5xx. */
describe('the kit against hostile input', () => {
  let logs: ReturnType<typeof captureLogs>;
  let metrics: HttpMetrics;
  let listener: Listener;
  let base: string;
  let port: number;
  let routeSawBody: () => void;
  let bodyReached: Promise<void>;

  beforeEach(async () => {
    logs = captureLogs('kit');
    metrics = createHttpMetrics();
    bodyReached = new Promise((resolve) => (routeSawBody = resolve));
    const routes = new Router<AppState>();
    routes.post('/things', function addThing(ctx) {
      routeSawBody();
      ctx.body = parseInput(z.strictObject({ name: singleLineText(1, 50) }), ctx.request.body, 'body');
    });
    const app = createApp({ logger: logs.logger, routes, metrics });
    listener = httpListener({ app, logger: logs.logger, config: { HOST: '127.0.0.1', PORT: 0 } });
    port = await listener.start(0);
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(() => listener.stop(1000));

  /** Writes `raw` on a socket and resolves with the status line and body the server answered. */
  async function rawRequest(raw: string): Promise<{ status: number; body: string }> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end(raw);
    let text = '';
    for await (const chunk of socket) text += (chunk as Buffer).toString('utf8');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
  }

  const serverErrors = async () =>
    (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => /^http_requests_total\{.*status_code="5/.test(line));

  it(`refuses JSON nested deeper than ${MAX_JSON_DEPTH} levels with a 400 naming the limit`, async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);

    const reply = await call(base, 'POST', '/things', { raw: deep });

    assert.equal(reply.status, 400);
    assert.match(reply.body.error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));
    assert.deepEqual(await serverErrors(), []);
  });

  it('counts nesting without being fooled by brackets inside strings', () => {
    assert.equal(jsonDepthExceeds(JSON.stringify({ name: '[[[[[[[[[[' }), 2), false);
    assert.equal(jsonDepthExceeds(JSON.stringify({ name: 'a\\"[[[[' }), 2), false);
    assert.equal(jsonDepthExceeds('[[[]]]', 2), true);
    assert.equal(jsonDepthExceeds('[[[]]]', 3), false);
  });

  it('refuses a body that is not valid UTF-8 instead of storing replacement characters', async () => {
    const reply = await call(base, 'POST', '/things', {
      raw: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    });

    assert.equal(reply.status, 400);
    assert.match(reply.body.error.message, /not valid UTF-8/);
  });

  for (const [what, name] of [
    ['a NUL byte', 'Ada\u0000Lovelace'],
    ['a newline that would forge a log line', 'Ada\n{"level":50}'],
    ['a C1 control character', 'Ada\u0085'],
    ['a right-to-left override', 'Ada\u202eecalevol'],
    ['a bidirectional isolate', 'Ada\u2066x\u2069'],
    ['a lone surrogate', 'Ada\ud800'],
  ] as const) {
    it(`refuses a name with ${what}, naming the field`, async () => {
      const reply = await call(base, 'POST', '/things', { body: { name } });

      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.details[0].field, 'body.name');
    });
  }

  it('accepts names in any script, accents and emoji included', async () => {
    for (const name of ['Ada Lovelace', 'Åsa Ødegård', 'محمد', '李小龙', 'Zoë 🎉']) {
      const reply = await call(base, 'POST', '/things', { body: { name } });
      assert.equal(reply.status, 200, name);
      assert.equal(reply.body.name, name);
    }
  });

  it('answers conflicting Content-Length headers with a JSON 400, before Koa', async () => {
    const reply = await rawRequest(
      'POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}',
    );

    assert.equal(reply.status, 400);
    assert.equal((JSON.parse(reply.body) as { error: { code: string } }).error.code, 'malformed_request');
  });

  it('answers CONNECT with a JSON 405: no service opens tunnels', async () => {
    const reply = await rawRequest('CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n');

    assert.equal(reply.status, 405);
    assert.match(reply.body, /"method_not_allowed"/);
  });

  it('answers an HTTP/1.1 request without Host with a JSON 400 that names the header', async () => {
    const reply = await rawRequest('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');

    assert.equal(reply.status, 400);
    assert.match((JSON.parse(reply.body) as { error: { message: string } }).error.message, /Host header/);
  });

  it('answers a garbage request line with a JSON 400', async () => {
    const reply = await rawRequest('\u0001\u0002 GARBAGE\r\n\r\n');

    assert.equal(reply.status, 400);
    assert.match(reply.body, /"malformed_request"/);
  });

  it('records a client that hangs up halfway through its body as 499, not as a server error', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();

    let text = '';
    for (let i = 0; i < 50 && !text.includes(`status_code="${CLIENT_CLOSED_REQUEST}"`); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      text = await metrics.registry.metrics();
    }
    // The body is read before routing, so the route label is the one for "not routed yet".
    assert.match(text, /http_requests_total\{method="POST",route="unmatched",status_code="499"\} 1/);
    assert.deepEqual(await serverErrors(), []);
    assert.equal(
      logs.lines().filter((line) => line.level === 50).length,
      0,
      'a client that left is not an error in the log',
    );
  });

  it('turns a PostgreSQL data exception (SQLSTATE class 22) into a 400, never a 500', () => {
    const translated = translatePgError(
      Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }),
    ) as { status: number; message: string };

    assert.equal(translated.status, 400);
    assert.match(translated.message, /invalid byte sequence/);
  });

  it('lets a route see a well-formed body', async () => {
    const reply = await call(base, 'POST', '/things', { body: { name: 'Grace' } });
    await bodyReached;
    assert.equal(reply.status, 200);
  });
});
