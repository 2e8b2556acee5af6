import assert from 'node:assert/strict';
import { startStatusServer, type StatusServer } from '../src/status-server';
import { Tally } from '../src/tally';

describe('the status server', () => {
  let server: StatusServer;
  let base: string;
  const tally = new Tally();

  before(async () => {
    tally.begin(0);
    tally.due = 4;
    tally.sent = 3;
    tally.dropped = 1;
    tally.recordResponse(200, 200, 250, 1);
    tally.recordResponse(503, 200, 10, 1);
    tally.recordFailure('bad "port"');
    server = await startStatusServer(tally, '127.0.0.1', 0);
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('is live on /healthz', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('gives the run so far as JSON on /stats', async () => {
    const stats = (await (await fetch(`${base}/stats`)).json()) as Record<string, unknown>;
    assert.equal(stats.sent, 3);
    assert.equal(stats.completed, 1);
    assert.equal(stats.errors, 2);
    assert.deepEqual(stats.errorsByStatus, { 503: 1 });
    assert.deepEqual(stats.errorsByKind, { 'bad "port"': 1 });
  });

  it('gives the counters in the Prometheus text format on /metrics', async () => {
    const response = await fetch(`${base}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const line of [
      'loadgen_requests_sent_total 3',
      'loadgen_requests_dropped_total 1',
      'loadgen_responses_total{status="200"} 1',
      'loadgen_responses_total{status="503"} 1',
      'loadgen_request_failures_total{reason="bad \\"port\\""} 1',
      'loadgen_requests_in_flight 0',
      'loadgen_latency_seconds{quantile="0.99"} 0.250000',
      'loadgen_latency_seconds_count 2',
    ]) {
      assert.ok(text.split('\n').includes(line), `no line ${line} in\n${text}`);
    }
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
  });
});
