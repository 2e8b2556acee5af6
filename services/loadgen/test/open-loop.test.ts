import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { planRequests, type PlanOptions } from '../src/journeys';
import { runOpenLoop, type OpenLoopOptions } from '../src/open-loop';
import { Tally } from '../src/tally';
import { closedPort, startFakeGateway, type FakeGateway, type FakeGatewayOptions } from './fake-gateway';

const catalog = { userIds: [1, 2, 3, 4, 5], productIds: [1, 2, 3, 4, 5, 6, 7, 8] };

async function run(
  gateway: FakeGateway,
  plan: Partial<PlanOptions> = {},
  loop: Partial<OpenLoopOptions> = {},
): Promise<{ tally: Tally; startedAt: number }> {
  const tally = new Tally();
  const startedAt = performance.now();
  await runOpenLoop({
    target: gateway.url,
    plan: planRequests({ seed: 7, rps: 200, durationMs: 2000, profile: 'steady', catalog, ...plan }),
    tally,
    maxInFlight: 1000,
    timeoutMs: 5000,
    drainMs: 1000,
    ...loop,
  });
  return { tally, startedAt };
}

describe('the open loop against a server', function () {
  this.timeout(15_000);
  let gateway: FakeGateway | undefined;

  const start = async (options: FakeGatewayOptions = {}) => (gateway = await startFakeGateway(options));
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('holds the rate: 200 req/s for 2 s reach the server as 200 in each second, within 5%', async function () {
    // On a busy machine a pause of 50 ms at the turn of the second moves 10 requests across it:
    // one retry absorbs that; a generator that does not hold the rate fails every attempt.
    this.retries(1);
    const server = await start();
    const { startedAt } = await run(server);
    assert.equal(server.arrivals.length, 400);
    const perSecond = [0, 0];
    for (const arrival of server.arrivals) perSecond[Math.floor((arrival.at - startedAt) / 1000)]! += 1;
    assert.equal(perSecond.length, 2, `arrivals after the run's end: ${JSON.stringify(perSecond)}`);
    for (const count of perSecond) assert.ok(Math.abs(count - 200) <= 10, `per second: ${perSecond.join(', ')}`);
    const span = (server.arrivals.at(-1)!.at - server.arrivals[0]!.at) / 1000;
    assert.ok(Math.abs(399 / span - 200) <= 10, `overall: ${(399 / span).toFixed(1)} req/s`);
  });

  it('counts what the server saw: sent == received, completed + errors == sent, and the mix as planned', async () => {
    const server = await start();
    const { tally } = await run(server, { rps: 100, durationMs: 1000 });
    assert.equal(tally.sent, server.arrivals.length);
    assert.equal(tally.due, tally.sent + tally.dropped);
    assert.equal(tally.completed + tally.errors, tally.sent);
    assert.equal(tally.inFlight, 0);
    // The fake answers the way the platform should, so every request got the status it expected...
    assert.equal(tally.completed, 100);
    // ...and the server saw exactly the planned requests. (Sorted: two requests 10 ms apart on two
    // connections may be read in either order; the order of the plan itself is tested on its own.)
    const planned = [...planRequests({ seed: 7, rps: 100, durationMs: 1000, profile: 'steady', catalog })];
    assert.deepEqual(
      server.arrivals.map(({ method, url, body }) => `${method} ${url} ${body}`).sort(),
      planned.map(({ method, path, body }) => `${method} ${path} ${body ?? ''}`).sort(),
    );
  });

  it('times from the intended send time, so a stall shows in the latency of the requests that waited for it', async function () {
    this.retries(1); // the same busy-machine allowance as the rate test
    // The 100th request (at ~0.5 s) freezes the whole process for 500 ms, as a
    // GC pause or a starved CPU would: the generator can not send either. The
    // ~100 requests due meanwhile go out late, and are each answered quickly.
    const server = await start({
      beforeAnswer: (_arrival, index) => {
        if (index !== 100) return;
        const until = performance.now() + 500;
        while (performance.now() < until) {
          // busy: nothing else runs
        }
      },
    });
    const { tally } = await run(server);
    assert.equal(tally.completed, 400);
    const { latencyMs: latency, serviceTimeMs: serviceTime } = tally.snapshot(performance.now());
    assert.ok(latency.p99 >= 400, `p99 from intended send time: ${latency.p99} ms`);
    assert.ok(latency.p95 >= 300, `p95 from intended send time: ${latency.p95} ms`);
    // Timed from the actual send, the same run looks healthy: that is what coordinated omission hides.
    // (The late ones all leave at once when the stall ends, so a few wait on each other for up to ~100 ms.)
    assert.ok(serviceTime.p50 < 20, `p50 from actual send: ${serviceTime.p50} ms`);
    assert.ok(serviceTime.p95 < 200, `p95 from actual send: ${serviceTime.p95} ms`);
  });

  it('drops what would exceed the in-flight bound instead of queueing it, and sends the rest on time', async () => {
    let concurrent = 0;
    let mostConcurrent = 0;
    const server = await start({
      beforeAnswer: async () => {
        mostConcurrent = Math.max(mostConcurrent, ++concurrent);
        await sleep(300);
        concurrent -= 1;
      },
    });
    const { tally } = await run(server, { rps: 100, durationMs: 1000 }, { maxInFlight: 5 });
    assert.equal(tally.due, 100);
    assert.ok(tally.dropped > 50, `dropped ${tally.dropped}`);
    assert.equal(tally.sent + tally.dropped, 100);
    assert.equal(server.arrivals.length, tally.sent);
    assert.equal(tally.completed, tally.sent);
    assert.ok(mostConcurrent <= 5, `${mostConcurrent} at once`);
  });

  it('gives up on a request at its timeout and counts it as an error', async () => {
    const server = await start({ beforeAnswer: () => sleep(2000) });
    const began = performance.now();
    const { tally } = await run(server, { rps: 20, durationMs: 500 }, { timeoutMs: 200 });
    assert.equal(tally.sent, 10);
    assert.deepEqual(Object.fromEntries(tally.errorsByKind), { timeout: 10 });
    assert.equal(tally.completed, 0);
    assert.ok(performance.now() - began < 1500, 'waited for the slow answers');
  });

  it('names connection errors by their code', async () => {
    const port = await closedPort();
    const tally = new Tally();
    await runOpenLoop({
      target: `http://127.0.0.1:${port}`,
      plan: planRequests({ seed: 1, rps: 50, durationMs: 200, profile: 'steady', catalog }),
      tally,
      maxInFlight: 100,
      timeoutMs: 2000,
      drainMs: 1000,
    });
    assert.deepEqual(Object.fromEntries(tally.errorsByKind), { ECONNREFUSED: 10 });
    assert.equal(tally.errors, tally.sent);
  });

  it('when stopped, sends nothing more, waits for what is in flight, then cancels it', async () => {
    const server = await start({ beforeAnswer: (arrival) => sleep(arrival.url.includes('/users/') ? 5000 : 0) });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 500);
    const began = performance.now();
    const { tally } = await run(server, { rps: 100, durationMs: 0 }, { stop: stop.signal, drainMs: 300 });
    const took = performance.now() - began;
    assert.ok(took >= 800 && took < 1500, `took ${took.toFixed(0)} ms: 500 ms of load, then 300 ms of drain`);
    assert.ok(Math.abs(tally.sent - 50) <= 3, `sent ${tally.sent}`);
    assert.equal(server.arrivals.length, tally.sent);
    assert.ok((tally.errorsByKind.get('cancelled') ?? 0) > 0, 'nothing was cancelled');
    assert.equal(tally.completed + tally.errors, tally.sent);
  });
});
