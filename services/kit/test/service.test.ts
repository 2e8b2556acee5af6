import assert from 'node:assert/strict';
import Router from '@koa/router';
import { createHttpMetrics } from '@glassbox/telemetry';
import { createApp } from '../src/app';
import { httpListener } from '../src/http-listener';
import { createService, type Listener, type Part } from '../src/service';
import { call, captureLogs } from '../src/testing';

/** A part that writes what happens to it into a shared journal, and can be told to fail or hang. */
function recordingPart(
  name: string,
  journal: string[],
  behaviour: { failStart?: boolean; hangStop?: boolean } = {},
): Part {
  return {
    name,
    start() {
      if (behaviour.failStart) return Promise.reject(new Error(`${name} could not start`));
      journal.push(`start ${name}`);
      return Promise.resolve();
    },
    stop(timeoutMs) {
      journal.push(`stop ${name} within ${timeoutMs > 0 ? 'time' : 'nothing'}`);
      return behaviour.hangStop ? new Promise<void>(() => undefined) : Promise.resolve();
    },
  };
}

function recordingListener(name: string, journal: string[], port: number, failStart = false): Listener {
  const part = recordingPart(name, journal, { failStart });
  return { ...part, start: async (given?: number) => (await part.start(), given ?? port) };
}

describe('the service lifecycle (createService)', () => {
  const { logger, lines } = captureLogs('kit');

  it('starts workers then listeners in order, and stops them in reverse before the closers', async () => {
    const journal: string[] = [];
    const service = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 1_000 },
      workers: [recordingPart('broker', journal), recordingPart('relay', journal)],
      listeners: [recordingListener('http', journal, 8080), recordingListener('grpc', journal, 50051)],
      closers: [() => void journal.push('close pool')],
    });

    assert.equal(await service.start(), 8080, 'start() resolves with the first listener’s port');
    assert.deepEqual(service.ports(), { http: 8080, grpc: 50051 });
    await service.stop();

    assert.deepEqual(journal, [
      'start broker',
      'start relay',
      'start http',
      'start grpc',
      'stop grpc within time',
      'stop http within time',
      'stop relay within time',
      'stop broker within time',
      'close pool',
    ]);
    assert.throws(() => service.ports(), /not started/);
  });

  it('with start(0), puts every listener on a free port (what tests do)', async () => {
    const service = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 1_000 },
      listeners: [recordingListener('http', [], 8080), recordingListener('management', [], 9080)],
    });

    await service.start(0);

    assert.deepEqual(service.ports(), { http: 0, management: 0 });
    await service.stop();
  });

  it('when a listener can not start, stops what had started and rethrows', async () => {
    const journal: string[] = [];
    const service = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 1_000 },
      workers: [recordingPart('relay', journal)],
      listeners: [recordingListener('http', journal, 8080), recordingListener('grpc', journal, 50051, true)],
    });

    await assert.rejects(service.start(), /grpc could not start/);
    assert.deepEqual(journal, ['start relay', 'start http', 'stop http within time', 'stop relay within time']);
  });

  it('keeps one deadline for the whole stop: a part that hangs is cut off and the rest still stop', async () => {
    const journal: string[] = [];
    const hanging = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 200 },
      workers: [recordingPart('consumer', journal), recordingPart('relay', journal, { hangStop: true })],
      listeners: [recordingListener('http', journal, 8080)],
      closers: [() => void journal.push('close pool')],
    });
    await hanging.start();
    journal.length = 0;

    const began = Date.now();
    await hanging.stop();
    const took = Date.now() - began;

    assert.ok(took >= 190 && took < 600, `stop took ${took} ms for a 200 ms deadline`);
    assert.deepEqual(journal, [
      'stop http within time',
      'stop relay within time',
      'stop consumer within nothing',
      'close pool',
    ]);
    assert.ok(
      lines().some((line) => line.part === 'relay' && /did not stop within/.test(JSON.stringify(line.err))),
      'the overrun is logged with the part that caused it',
    );
  });

  it('drains an HTTP request in flight before stopping, and refuses new connections meanwhile', async () => {
    const routes = new Router();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    routes.get('/slow', async function slow(ctx) {
      await held;
      ctx.body = { done: true };
    });
    const app = createApp({ logger, routes, metrics: createHttpMetrics() });
    const service = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 5_000 },
      listeners: [httpListener({ app, logger, config: { HOST: '127.0.0.1', PORT: 0 } })],
    });
    const url = `http://127.0.0.1:${await service.start()}`;

    const inFlight = call(url, 'GET', '/slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = service.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(call(url, 'GET', '/healthz'), 'a new request is refused while draining');
    release();

    assert.deepEqual((await inFlight).body, { done: true });
    await stopping;
  });

  it('cuts a request that outlives the deadline, and says so in the log', async () => {
    const routes = new Router();
    routes.get('/forever', async function forever() {
      await new Promise(() => undefined);
    });
    const app = createApp({ logger, routes, metrics: createHttpMetrics() });
    const service = createService({
      logger,
      config: { SHUTDOWN_TIMEOUT_MS: 150 },
      listeners: [httpListener({ app, logger, config: { HOST: '127.0.0.1', PORT: 0 } })],
    });
    const url = `http://127.0.0.1:${await service.start()}`;
    const stuck = call(url, 'GET', '/forever');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const began = Date.now();
    await service.stop();
    assert.ok(Date.now() - began < 1_000, 'stop() did not wait for the stuck request');
    await assert.rejects(stuck, 'the stuck request was cut');
    assert.ok(lines().some((line) => /still in flight after the shutdown timeout/.test(String(line.msg))));
  });
});
