import assert from 'node:assert/strict';
import type pg from 'pg';
import { createPool, postgresConfig } from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort } from '@glassbox/service-kit/testing';
import { z } from 'zod';
import { readConfig } from '../src/config';
import { buildUsersService } from '../src/main';
import { PostgresUserRepository } from '../src/repository';

/** Integration tier: a real PostgreSQL, as started by scripts/deps.sh (its env: scripts/deps.sh env). */
describe('users on a real PostgreSQL', () => {
  const config = z.object(postgresConfig).parse(process.env);
  const { logger } = captureLogs('users');
  let pool: pg.Pool;
  let repository: PostgresUserRepository;

  before(async () => {
    pool = createPool(config, logger);
    repository = new PostgresUserRepository(pool);
    await repository.migrate();
  });
  beforeEach(() => pool.query('TRUNCATE users RESTART IDENTITY'));
  after(() => pool.end());

  it('runs its migration again without harm, keeping the data', async () => {
    await repository.insert({ name: 'kept', email: 'kept@example.org' });
    await repository.migrate();
    await Promise.all([repository.migrate(), repository.migrate()]);
    assert.equal((await repository.list({ limit: 10, offset: 0 })).total, 1);
  });

  it('creates, reads, lists, updates and deletes', async () => {
    const ada = await repository.insert({ name: 'Ada', email: 'ada@example.org' });
    assert.equal(ada.id, 1);
    assert.match(ada.createdAt, /^\d{4}-\d\d-\d\dT/);
    await repository.insert({ name: 'Bob', email: 'bob@example.org' });
    assert.deepEqual(await repository.find(ada.id), ada);
    const page = await repository.list({ limit: 1, offset: 1 });
    assert.deepEqual(
      page.items.map((u) => u.name),
      ['Bob'],
    );
    assert.equal(page.total, 2);
    const updated = await repository.update(ada.id, { name: 'Ada K', email: 'ada@example.org' });
    assert.equal(updated?.name, 'Ada K');
    assert.equal(await repository.update(999, { name: 'x', email: 'x@example.org' }), undefined);
    assert.equal(await repository.delete(ada.id), true);
    assert.equal(await repository.delete(ada.id), false);
    assert.equal(await repository.find(ada.id), undefined);
  });

  it('refuses a second user with the same email with a 409', async () => {
    await repository.insert({ name: 'one', email: 'same@example.org' });
    await assert.rejects(repository.insert({ name: 'two', email: 'same@example.org' }), { status: 409 });
    const other = await repository.insert({ name: 'three', email: 'other@example.org' });
    await assert.rejects(repository.update(other.id, { name: 'three', email: 'same@example.org' }), { status: 409 });
  });

  it('serves the HTTP API from PostgreSQL, and /readyz checks it', async () => {
    const users = await startOnFreePort(
      await buildUsersService(readConfig({ ...process.env, STORAGE: 'postgres' }), logger),
    );
    try {
      const created = await call(users.url, 'POST', '/users', { body: { name: 'Eve', email: 'eve@example.org' } });
      assert.equal(created.status, 201);
      assert.equal((await call(users.url, 'GET', `/users/${created.body.id}`)).body.email, 'eve@example.org');
      const ready = await call(users.management, 'GET', '/readyz');
      assert.deepEqual(ready.body, { ready: true, checks: { postgres: 'ok' } });
    } finally {
      await users.stop();
    }
  });

  it('answers 503, not 500, and reports not ready when PostgreSQL cannot be reached', async () => {
    const unreachable = readConfig({ ...process.env, STORAGE: 'postgres', DB_PORT: '1' });
    const deadPool = createPool(unreachable.postgres!, logger);
    const store = { repository: new PostgresUserRepository(deadPool), close: () => deadPool.end() };
    const users = await startOnFreePort(await buildUsersService(unreachable, logger, { store }));
    try {
      const reply = await call(users.url, 'GET', '/users/1');
      assert.equal(reply.status, 503);
      assert.equal(reply.body.error.code, 'dependency_unavailable');
      const ready = await call(users.management, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.checks.postgres, /^failed: /);
    } finally {
      await users.stop();
    }
  });
});
