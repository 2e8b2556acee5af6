import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { call, spawnService, startOtlpRecorder, type OtlpRecorder } from '@glassbox/service-kit/testing';
import { eventually } from '../src/system';

const SHUTDOWN_TIMEOUT_MS = 3_000;
const ADMIN_TOKEN = 'shutdown-test-admin-token-0123456789';

/**
 * SIGTERM is how every orchestrator stops a service. Each service is started
 * as production starts it (the preload, its built main), put under load,
 * and sent SIGTERM: the requests it had accepted must all be answered, the
 * spans of those last requests must reach the collector (only the shutdown
 * flush can deliver them: the batch delay is set far beyond the test), and
 * the process must exit 0 within its one shutdown deadline.
 */
describe('graceful shutdown: SIGTERM under load', function () {
  this.timeout(60_000);
  let collector: OtlpRecorder;
  const children: ChildProcess[] = [];

  beforeEach(async () => (collector = await startOtlpRecorder()));
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await collector.close();
  });

  /** The environment production gives a service, pointed at the recorder, and at the integration tier's broker. */
  function productionEnv(service: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      STORAGE: 'memory',
      AMQP_URL: process.env.AMQP_URL ?? '',
      ADMIN_TOKEN,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      // Nothing is exported on a timer during the test: what arrives, the shutdown flushed.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      ...extra,
    };
  }

  async function start(service: string, extra: Record<string, string> = {}) {
    const running = await spawnService(require.resolve(`@glassbox/${service}`), productionEnv(service, extra));
    children.push(running.child);
    return running;
  }

  /** SIGTERM, then how long the process took to exit and with which code. */
  async function terminate(child: ChildProcess): Promise<{ code: number | null; tookMs: number }> {
    const began = Date.now();
    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill('SIGTERM');
    const [code] = await exited;
    return { code, tookMs: Date.now() - began };
  }

  /** Starts `count` requests at once and lets them run; resolves with each one's status, or its error. */
  function burst(count: number, send: () => Promise<{ status: number }>): Promise<Array<number | string>> {
    return Promise.all(
      Array.from({ length: count }, () =>
        send().then(
          (reply) => reply.status,
          (error: Error) => `failed: ${error.message}`,
        ),
      ),
    );
  }

  const assertPromptExit = ({ code, tookMs }: { code: number | null; tookMs: number }) => {
    assert.equal(code, 0, 'exits 0');
    assert.ok(tookMs < SHUTDOWN_TIMEOUT_MS + 1_000, `exited after ${tookMs} ms, deadline ${SHUTDOWN_TIMEOUT_MS} ms`);
  };

  it('users: every request in flight (400 ms each) is answered, spans flushed, exit 0 within the deadline', async () => {
    const users = await start('users');
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await call(users.url, 'POST', '/users', { body: { name: 'Ada', email: 'ada@example.org' } });
    await call(users.management, 'PUT', '/admin/faults/slow-sql', { body: { enabled: true }, headers: admin });

    const inFlight = burst(20, () => call(users.url, 'GET', '/users/1'));
    await new Promise((resolve) => setTimeout(resolve, 250));
    const exit = terminate(users.child);

    assert.deepEqual(await inFlight, Array(20).fill(200), 'no request lost');
    assertPromptExit(await exit);
    assert.ok(collector.received('/v1/traces').some((payload) => payload.includes('GET /users/:id')));
  });

  it('gateway: requests in flight to a slow users service are answered, then it exits within the deadline', async () => {
    const users = await start('users');
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await call(users.url, 'POST', '/users', { body: { name: 'Ada', email: 'ada@example.org' } });
    await call(users.management, 'PUT', '/admin/faults/slow-sql', { body: { enabled: true }, headers: admin });
    const gateway = await start('gateway', {
      USERS_URL: users.url,
      PRODUCTS_URL: users.url,
      ORDERS_URL: users.url,
    });

    const inFlight = burst(20, () => call(gateway.url, 'GET', '/api/users/1'));
    // Long enough for a cold process to accept all 20, short of the 400 ms each one takes at users.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const exit = terminate(gateway.child);

    assert.deepEqual(await inFlight, Array(20).fill(200), 'no request lost');
    assertPromptExit(await exit);
    assert.ok(collector.received('/v1/traces').some((payload) => payload.includes('GET /api/users/:id')));
  });

  for (const [service, path] of [
    ['products', '/products'],
    ['orders', '/orders?userId=1'],
  ] as const) {
    it(`${service}: flushes the spans of its last requests and exits 0 within the deadline`, async () => {
      const running = await start(service);

      // Answered before SIGTERM; their spans wait in the batch until the shutdown flushes them.
      assert.deepEqual(await burst(20, () => call(running.url, 'GET', path)), Array(20).fill(200));
      assertPromptExit(await terminate(running.child));

      assert.ok(collector.received('/v1/traces').length > 0, 'spans flushed');
    });
  }

  it('notifications: stops its consumer, closes the broker connection and exits 0 within the deadline', async () => {
    const notifications = await start('notifications');
    await eventually(
      async () => ((await call(notifications.management, 'GET', '/readyz')).status === 200 ? true : undefined),
      'notifications connected to RabbitMQ',
      20_000,
    );

    assertPromptExit(await terminate(notifications.child));
    assert.match(notifications.output(), /"msg":"stopped"/);
  });
});
