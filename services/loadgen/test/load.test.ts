import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadConfig } from '../src/config';
import { runLoad } from '../src/load';
import { closedPort, startFakeGateway, type FakeGateway } from './fake-gateway';

/** A stream that keeps what is written to it. */
function capture(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

const configFor = (target: string, overrides: Partial<LoadConfig> = {}): LoadConfig => ({
  target,
  rps: 100,
  durationMs: 1000,
  seed: 42,
  profile: 'steady',
  maxInFlight: 1000,
  timeoutMs: 2000,
  waitMs: 0,
  statusPort: 0,
  statusHost: '127.0.0.1',
  ...overrides,
});

/** The value of one summary row, e.g. row(summary, 'sent'). */
function row(summary: string, name: string): number {
  const match = new RegExp(`^ {2}${name} +(\\d+)`, 'm').exec(summary);
  assert.ok(match, `no "${name}" row in:\n${summary}`);
  return Number(match[1]);
}

describe('a load run', function () {
  this.timeout(15_000);
  let gateway: FakeGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('seeds an empty platform, sends the plan, and prints a summary that matches what the server saw', async () => {
    gateway = await startFakeGateway({ users: 0, products: 0 });
    const [stdout, stderr] = [capture(), capture()];
    const code = await runLoad(configFor(gateway.url), { stdout, stderr, stop: new AbortController().signal });
    assert.equal(code, 0);

    // Seeding: two lists, 5 users and 8 products created; then the run itself.
    const received = gateway.arrivals.length - 2 - 5 - 8;
    const summary = stdout.text();
    assert.equal(row(summary, 'sent'), received);
    assert.equal(row(summary, 'sent'), 100);
    assert.equal(row(summary, 'completed') + row(summary, 'errors'), row(summary, 'sent'));
    assert.equal(row(summary, 'dropped'), 0);
    assert.match(summary, /^glassbox loadgen: steady 100 req\/s for 1s, seed 42, target http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(summary, /responses by status +200: \d+, 201: \d+, 400: \d+, 404: \d+/);
    assert.match(summary, /from intended send time +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d/);
    // Not a terminal: no bar, no carriage returns in the log.
    assert.doesNotMatch(stderr.text(), /\r/);
    assert.match(stderr.text(), /created 5 users/);
  });

  it('runs until stopped, serving /healthz and /stats meanwhile, then drains and prints the summary', async () => {
    gateway = await startFakeGateway();
    const [stdout, stderr] = [capture(), capture()];
    const stop = new AbortController();
    const running = runLoad(configFor(gateway.url, { durationMs: 0, rps: 50 }), { stdout, stderr, stop: stop.signal });

    await sleep(600);
    const port = /status on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr.text())?.[1];
    assert.ok(port, stderr.text());
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { sent: number };
    assert.ok(stats.sent > 10, `sent ${stats.sent} after 0.6 s`);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^loadgen_requests_sent_total \d+$/m);

    stop.abort();
    const began = Date.now();
    assert.equal(await running, 0);
    assert.ok(Date.now() - began < 1000, 'did not stop promptly');
    assert.match(stdout.text(), /seed 42.*\n/);
    assert.equal(row(stdout.text(), 'sent'), gateway.arrivals.length - 2);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the status server outlived the run');
  });

  it('exits 1, saying why, when the gateway can not be reached', async () => {
    const [stdout, stderr] = [capture(), capture()];
    const target = `http://127.0.0.1:${await closedPort()}`;
    const code = await runLoad(configFor(target), { stdout, stderr, stop: new AbortController().signal });
    assert.equal(code, 1);
    assert.ok(
      stderr.text().includes(`could not prepare the data: the gateway at ${target} did not answer`),
      stderr.text(),
    );
    assert.equal(stdout.text(), '');
  });
});
