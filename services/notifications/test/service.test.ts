import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { ConfigError } from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildNotificationsService } from '../src/main';

describe('notifications configuration', () => {
  it('has defaults that fit the compose stack', () => {
    const config = readConfig({ DB_PASSWORD: 'secret' });
    assert.equal(config.PORT, 8084);
    assert.equal(config.AMQP_URL, 'amqp://glassbox:glassbox@rabbitmq:5672');
    assert.equal(config.CONSUMER_PREFETCH, 10);
    assert.equal(config.RETRY_MAX_ATTEMPTS, 5);
    assert.equal(config.postgres?.DB_HOST, 'postgres');
  });

  it('refuses an AMQP_URL that is not an amqp URL, naming the variable', () => {
    for (const url of ['http://rabbitmq:5672', 'rabbitmq:5672', 'amqp://']) {
      assert.throws(
        () => readConfig({ STORAGE: 'memory', AMQP_URL: url }),
        (error: Error) =>
          error instanceof ConfigError && /AMQP_URL: expected an amqp:\/\/ or amqps:\/\/ URL/.test(error.message),
        url,
      );
    }
    assert.equal(
      readConfig({ STORAGE: 'memory', AMQP_URL: 'amqps://u:p@mq.example/vh' }).AMQP_URL,
      'amqps://u:p@mq.example/vh',
    );
  });

  it('refuses a retry policy that could not work', () => {
    assert.throws(() => readConfig({ STORAGE: 'memory', RETRY_MAX_ATTEMPTS: '0' }), /RETRY_MAX_ATTEMPTS/);
    assert.throws(() => readConfig({ STORAGE: 'memory', RETRY_DELAY_MS: 'soon' }), /RETRY_DELAY_MS/);
  });

  it('needs the PostgreSQL password only when it stores in PostgreSQL', () => {
    assert.throws(() => readConfig({}), /DB_PASSWORD: required/);
    assert.equal(readConfig({ STORAGE: 'memory' }).postgres, undefined);
  });

  it('makes the process exit non-zero with the variable in its message', () => {
    const main = join(__dirname, '..', 'src', 'main.js');
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, STORAGE: 'memory', AMQP_URL: 'http://x', OTEL_SDK_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /notifications: failed to start: invalid configuration:\n\s+AMQP_URL:/);
  });
});

/** A port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('notifications service while RabbitMQ is unreachable (in-memory repository)', () => {
  let service: Running;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    logs = captureLogs('notifications');
    const config = readConfig({ STORAGE: 'memory', AMQP_URL: `amqp://guest:guest@127.0.0.1:${await closedPort()}` });
    service = await startOnFreePort(await buildNotificationsService(config, logs.logger));
  });
  afterEach(() => service.stop());

  it('stays live, answers not ready naming rabbitmq, and keeps retrying the connection', async () => {
    assert.equal((await call(service.url, 'GET', '/healthz')).status, 200);
    const ready = await call(service.management, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body.checks, { memory: 'ok', rabbitmq: 'failed: not connected' });

    // Backoff starts at 500 ms: within 2 s there are at least two failed attempts.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const failures = logs.lines().filter((l) => l.msg === 'RabbitMQ connection failed; retrying');
    assert.ok(failures.length >= 2, `expected repeated attempts, saw ${failures.length}`);
    assert.deepEqual(
      failures.slice(0, 2).map((l) => l.attempt),
      [1, 2],
    );
    assert.ok(!JSON.stringify(failures).includes('guest:guest'), 'the URL credentials never reach the log');
    assert.equal((await call(service.url, 'GET', '/healthz')).status, 200, 'the process is still serving');
  });

  it('serves its own counters on /metrics beside the HTTP ones', async () => {
    await call(service.url, 'GET', '/healthz');
    const response = await fetch(`${service.management}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    for (const name of [
      'notifications_recorded_total',
      'notifications_duplicates_total',
      'notifications_retried_total',
      'notifications_dead_lettered_total',
      'http_requests_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name.replace(/_total$/, '')} counter$`, 'm'), name);
    }
  });

  it('serves the dead-letter queue’s depth as unknown (NaN) while RabbitMQ can not be asked', async () => {
    const text = await (await fetch(`${service.management}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    assert.match(text, /^notifications_dead_letter_messages\{queue="notifications\.order-created\.dead"\} NaN$/im);
  });

  it('has no routes of its own: anything else is a JSON 404', async () => {
    const reply = await call(service.url, 'GET', '/notifications');
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error.code, 'not_found');
  });
});

describe('the dead-letter gauge when RabbitMQ accepts connections but never answers', () => {
  let silent: Server;
  let service: Running;

  before(async () => {
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const config = readConfig({ STORAGE: 'memory', AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}` });
    service = await startOnFreePort(await buildNotificationsService(config, captureLogs('notifications').logger));
  });
  after(async () => {
    await service.stop();
    silent.close();
  });

  it('answers the scrape within its timeout instead of hanging, then from its cache', async () => {
    const scrape = async () => {
      const began = Date.now();
      const text = await (await fetch(`${service.management}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      return { text, tookMs: Date.now() - began };
    };
    const first = await scrape();
    assert.match(first.text, /^notifications_dead_letter_messages\{[^}]*\} NaN$/im);
    assert.ok(first.tookMs < 3_000, `the first scrape took ${first.tookMs} ms; the broker is given 2 s`);
    const second = await scrape();
    assert.ok(second.tookMs < 500, `the second scrape took ${second.tookMs} ms, not served from the cache`);
  });
});
