import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { call } from '@glassbox/service-kit/testing';
import { testTelemetry } from '@glassbox/telemetry/testing';
import {
  checkAnswer,
  HOSTILE_CASES,
  looksInternal,
  sendCase,
  traceresponseOf,
  TRAVERSAL_CASES,
} from '../src/hostile-cases';
import { isolatedDependencies, type Isolated } from '../src/isolation';
import { resetDatabase, startSystem, type System } from '../src/system';

/** Methods as the gateway's metrics may label them: the known ones, everything else as _OTHER. */
const METHOD_LABELS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  '_OTHER',
]);

describe('hostile input at the public API: a 4xx that names the problem, nothing stored, nothing leaked, no 5xx', function () {
  this.timeout(120_000);
  let isolated: Isolated;
  let system: System;
  /** Requests that reached a service behind the gateway (its public port), as `METHOD url`. */
  const reachedServices: string[] = [];
  let servicePorts: Set<number>;
  const onRequest = (message: unknown) => {
    const { request } = message as { request: IncomingMessage };
    if (servicePorts.has(request.socket.localPort ?? 0)) reachedServices.push(`${request.method} ${request.url}`);
  };

  /** Every table of the database: its row count and a checksum of its rows. */
  async function tables(): Promise<Record<string, string>> {
    const { rows } = await system.db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    const state: Record<string, string> = {};
    for (const { tablename } of rows) {
      const { rows: sums } = await system.db.query<{ n: number; sum: string | null }>(
        `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS sum FROM "${tablename}" t`,
      );
      state[tablename] = `${sums[0]?.n} rows, ${sums[0]?.sum ?? 'empty'}`;
    }
    return state;
  }

  /** The gateway's http_requests_total series, as `{labels} value` lines. */
  async function requestSeries(): Promise<string[]> {
    const text = await (await fetch(`${system.gateway.management}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('http_requests_total{'))
      .map((line) => line.replace(/ # \{.*$/, '')); // the exemplar changes with every request
  }
  const serverErrors = (series: string[]) => series.filter((line) => /status_code="5\d\d"/.test(line));

  /** Until the gateway's counters stop moving: a hang-up is counted when the server notices it. */
  async function settled(): Promise<string[]> {
    let last = await requestSeries();
    for (let i = 0; i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const now = await requestSeries();
      if (now.join('\n') === last.join('\n')) return now;
      last = now;
    }
    return last;
  }

  before(async () => {
    isolated = await isolatedDependencies('hostile_input');
    system = await startSystem(isolated.env);
    await resetDatabase(system.db);
    // Row 1 of users and products, which the cases point at.
    assert.equal(
      (await call(system.gateway.url, 'POST', '/api/users', { body: { name: 'Kim', email: 'kim@example.org' } }))
        .status,
      201,
    );
    assert.equal(
      (await call(system.gateway.url, 'POST', '/api/products', { body: { name: 'Pen', priceCents: 150, stock: 5 } }))
        .status,
      201,
    );
    // The gateway as production runs it: the public edge under EDGE_TRACE_POLICY=continue.
    testTelemetry.edge({ policy: 'continue', port: Number(new URL(system.gateway.url).port) });
    servicePorts = new Set([system.users, system.products, system.orders].map((s) => Number(new URL(s.url).port)));
    subscribe('http.server.request.start', onRequest);
  });
  after(async () => {
    unsubscribe('http.server.request.start', onRequest);
    testTelemetry.edge();
    await system?.stop();
    await isolated?.drop();
  });

  it(`has at least 120 cases, 25 of them traversals (${HOSTILE_CASES.length}, ${TRAVERSAL_CASES.length})`, () => {
    assert.ok(HOSTILE_CASES.length >= 120);
    assert.ok(TRAVERSAL_CASES.length >= 25);
  });

  for (const hostile of HOSTILE_CASES) {
    it(`${hostile.group}: ${hostile.what}`, async () => {
      const tablesBefore = await tables();
      const errorsBefore = serverErrors(await requestSeries());
      reachedServices.length = 0;

      const answer = await sendCase(system.gateway.url, hostile);
      const series = await settled();

      checkAnswer(
        hostile,
        answer,
        [system.users.url, system.products.url, system.orders.url].map((u) => new URL(u).host),
      );
      if (hostile.group === 'traversal') {
        assert.deepEqual(reachedServices, [], 'no service behind the gateway was called');
        assert.equal(looksInternal(answer), false, 'the answer is not an internal endpoint’s');
      }
      if (answer?.headers['x-request-id']) {
        // Every answer the gateway's app gave (not Node's parser) says which trace it was recorded under.
        const recorded = traceresponseOf(answer);
        assert.ok(recorded, `a traceresponse header: ${JSON.stringify(answer.headers)}`);
        assert.notEqual(recorded.traceId, '0'.repeat(32));
      }
      assert.deepEqual(serverErrors(series), errorsBefore, 'no new 5xx series in the gateway’s http_requests_total');
      assert.deepEqual(await tables(), tablesBefore, 'no table changed');
    });
  }

  it('is up afterwards: the gateway answers, its metrics hold no 5xx and no method label a caller invented', async () => {
    assert.equal((await call(system.gateway.url, 'GET', '/healthz')).status, 200);
    assert.equal((await call(system.gateway.url, 'GET', '/api/products?limit=1')).status, 200);
    assert.equal((await call(system.gateway.management, 'GET', '/readyz')).status, 200);
    const series = await requestSeries();
    assert.deepEqual(serverErrors(series), []);
    const methods = new Set(series.map((line) => /method="([^"]*)"/.exec(line)?.[1] ?? ''));
    assert.deepEqual(
      [...methods].filter((method) => !METHOD_LABELS.has(method)),
      [],
    );
  });
});
