import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { join } from 'node:path';
import { buildGatewayService } from '@glassbox/gateway';
import { readConfig as gatewayConfig } from '@glassbox/gateway/config';
import { call, captureLogs, spawnService, startOnFreePort } from '@glassbox/service-kit/testing';
import { eventually, resetDatabase, startSystem, type System } from '../src/system';

const DEPS = join(__dirname, '..', '..', '..', 'scripts', 'deps.sh');
/**
 * Asynchronous on purpose: every service of the system runs in this process,
 * and a blocked event loop would be an outage of its own.
 */
async function deps(command: 'start' | 'stop', what: 'postgres' | 'rabbitmq'): Promise<void> {
  await promisify(execFile)('sh', [DEPS, command, what], { timeout: 90_000 });
}

describe('outages: a dependency goes away and comes back', function () {
  this.timeout(180_000);

  describe('RabbitMQ stopped while orders are placed', () => {
    let system: System;
    before(async () => (system = await startSystem()));
    after(async () => {
      await deps('start', 'rabbitmq');
      await system?.stop();
    });

    it('accepts all 20 orders, and once RabbitMQ is back delivers all 20 notifications, none twice', async () => {
      await resetDatabase(system.db);
      const user = await call(system.gateway.url, 'POST', '/api/users', {
        body: { name: 'Mo', email: 'mo@example.org' },
      });
      const product = await call(system.gateway.url, 'POST', '/api/products', {
        body: { name: 'Cup', priceCents: 800, stock: 100 },
      });

      await deps('stop', 'rabbitmq');
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const reply = await call(system.gateway.url, 'POST', '/api/orders', {
          body: { userId: user.body.id, items: [{ productId: product.body.id, quantity: 1 }] },
        });
        statuses.push(reply.status);
      }
      assert.deepEqual(statuses, Array(20).fill(201), 'every order is accepted while the broker is down');
      const pending = await system.db.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
      const waiting = pending.rows[0].n as number;
      assert.equal(waiting, 20, 'the events wait in the outbox');

      await deps('start', 'rabbitmq');
      const delivered = await eventually(
        async () => {
          const { rows } = await system.db.query(
            'SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM notifications',
          );
          return rows[0].n === 20 ? rows[0] : undefined;
        },
        '20 notifications after RabbitMQ returned',
        90_000,
      );
      assert.equal(delivered.orders, 20, 'none twice');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await system.db.query('SELECT count(*)::int AS n FROM notifications');
      assert.equal(after.rows[0].n, 20, 'and no late duplicate');
      console.log(
        `      orders accepted: 20, waited in the outbox: ${waiting}, delivered: ${delivered.n}, duplicated: 0`,
      );
    });
  });

  describe('PostgreSQL stopped under a running users process, then a dead users process behind the gateway', () => {
    it('users reports not ready and answers 503 JSON, stays up, and serves again when PostgreSQL returns', async () => {
      const users = await spawnService(
        join(__dirname, '..', '..', '..', 'services', 'users', 'dist', 'src', 'main.js'),
        {
          ...(process.env as Record<string, string>),
          OTEL_SDK_DISABLED: 'true',
        },
      );
      try {
        assert.equal((await call(users.management, 'GET', '/readyz')).status, 200);
        await deps('stop', 'postgres');
        try {
          const reply = await call(users.url, 'GET', '/users/1');
          assert.equal(reply.status, 503);
          assert.equal(reply.body.error.code, 'dependency_unavailable');
          const ready = await call(users.management, 'GET', '/readyz');
          assert.equal(ready.status, 503);
          assert.match(ready.body.checks.postgres, /^failed/);
          assert.equal(users.child.exitCode, null, 'the process is still running');
        } finally {
          await deps('start', 'postgres');
        }
        await eventually(
          async () => (await call(users.management, 'GET', '/readyz')).status === 200,
          'ready again',
          30_000,
        );
        assert.equal((await call(users.url, 'GET', '/users?limit=1')).status, 200, 'serves without a restart');

        // Now the users process dies; the gateway must answer for it, quickly.
        const gateway = await startOnFreePort(
          await buildGatewayService(
            gatewayConfig({
              USERS_URL: users.url,
              PRODUCTS_URL: users.url,
              ORDERS_URL: users.url,
              UPSTREAM_TIMEOUT_MS: '1000',
            }),
            captureLogs('gateway').logger,
          ),
        );
        try {
          users.child.kill('SIGKILL');
          await once(users.child, 'exit');
          const started = Date.now();
          const reply = await call(gateway.url, 'GET', '/api/users/1');
          const waited = Date.now() - started;
          assert.ok([502, 504].includes(reply.status), `status ${reply.status}`);
          assert.equal(reply.body.error.details.dependency, 'users');
          assert.ok(waited < 1_500, `answered after ${waited} ms, within the 1000 ms timeout`);
        } finally {
          await gateway.stop();
        }
      } finally {
        if (users.child.exitCode === null) users.child.kill('SIGKILL');
      }
    });
  });
});
