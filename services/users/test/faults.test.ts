import assert from 'node:assert/strict';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildUsersService } from '../src/main';

const TOKEN = 'a-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${TOKEN}` };

describe('fault switches (/admin/faults)', () => {
  let users: Running;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    logs = captureLogs('users');
    users = await startOnFreePort(
      await buildUsersService(readConfig({ STORAGE: 'memory', ADMIN_TOKEN: TOKEN }), logs.logger),
    );
    await call(users.url, 'POST', '/users', { body: { name: 'Ada', email: 'ada@example.org' } });
  });
  afterEach(() => users.stop());

  it('lists the faults this service can play, all off', async () => {
    const reply = await call(users.management, 'GET', '/admin/faults', { headers: admin });
    assert.equal(reply.status, 200);
    assert.deepEqual(
      reply.body.map((f: { name: string; enabled: boolean }) => [f.name, f.enabled]),
      [
        ['slow-sql', false],
        ['error-burst', false],
      ],
    );
  });

  it('refuses a missing or wrong token with 401, and does not exist at all without ADMIN_TOKEN', async () => {
    assert.equal((await call(users.management, 'GET', '/admin/faults')).status, 401);
    assert.equal(
      (
        await call(users.management, 'PUT', '/admin/faults/slow-sql', {
          body: { enabled: true },
          headers: { authorization: 'Bearer nope' },
        })
      ).status,
      401,
    );
    const open = await startOnFreePort(await buildUsersService(readConfig({ STORAGE: 'memory' }), logs.logger));
    try {
      assert.equal((await call(open.management, 'GET', '/admin/faults', { headers: admin })).status, 404);
    } finally {
      await open.stop();
    }
  });

  it('refuses an unknown fault with 404 and a bad body with 400', async () => {
    const unknown = await call(users.management, 'PUT', '/admin/faults/nope', {
      body: { enabled: true },
      headers: admin,
    });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /known: slow-sql, error-burst/);
    const bad = await call(users.management, 'PUT', '/admin/faults/slow-sql', {
      body: { enabled: 'yes' },
      headers: admin,
    });
    assert.equal(bad.status, 400);
  });

  it('slow-sql makes GET /users/:id take 400 ms longer until it is switched off', async () => {
    const timed = async () => {
      const started = performance.now();
      assert.equal((await call(users.url, 'GET', '/users/1')).status, 200);
      return performance.now() - started;
    };
    assert.ok((await timed()) < 200);
    assert.equal(
      (await call(users.management, 'PUT', '/admin/faults/slow-sql', { body: { enabled: true }, headers: admin })).body
        .enabled,
      true,
    );
    assert.ok((await timed()) >= 390);
    await call(users.management, 'PUT', '/admin/faults/slow-sql', { body: { enabled: false }, headers: admin });
    assert.ok((await timed()) < 200);
    assert.ok(
      logs.lines().some((l) => l.msg === 'fault slow-sql switched ON'),
      'switching is logged',
    );
  });

  it('error-burst makes a share of GET /users/:id fail with a 500', async () => {
    await call(users.management, 'PUT', '/admin/faults/error-burst', { body: { enabled: true }, headers: admin });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () => call(users.url, 'GET', '/users/1').then((r) => r.status)),
    );
    const failed = statuses.filter((s) => s === 500).length;
    assert.ok(failed >= 5 && failed <= 40, `${failed} of 60 failed`);
    assert.ok(statuses.every((s) => s === 200 || s === 500));
  });
});
