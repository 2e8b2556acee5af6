import assert from 'node:assert/strict';
import { MAX_BODY_BYTES } from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { buildUsersService } from '../src/main';
import { readConfig } from '../src/config';

describe('users service over HTTP (in-memory repository)', () => {
  let users: Running;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    const config = readConfig({ STORAGE: 'memory' });
    logs = captureLogs('users');
    users = await startOnFreePort(await buildUsersService(config, logs.logger));
  });
  afterEach(() => users.stop());

  const register = (name: string, email: string) => call(users.url, 'POST', '/users', { body: { name, email } });

  it('registers a user, then serves, replaces and removes it', async () => {
    const created = await register('Ada Lovelace', 'Ada@Example.org');
    assert.equal(created.status, 201);
    assert.equal(created.body.email, 'ada@example.org', 'emails are stored lower-case');
    assert.equal(created.headers.get('location'), `/users/${created.body.id}`);

    const fetched = await call(users.url, 'GET', `/users/${created.body.id}`);
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.body, created.body);

    const replaced = await call(users.url, 'PUT', `/users/${created.body.id}`, {
      body: { name: 'Ada King', email: 'ada@example.org' },
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.name, 'Ada King');

    assert.equal((await call(users.url, 'DELETE', `/users/${created.body.id}`)).status, 204);
    assert.equal((await call(users.url, 'GET', `/users/${created.body.id}`)).status, 404);
  });

  it('lists users a page at a time and says how many there are', async () => {
    for (let i = 1; i <= 5; i++) await register(`user ${i}`, `u${i}@example.org`);
    const page = await call(users.url, 'GET', '/users?limit=2&offset=1');
    assert.equal(page.status, 200);
    assert.deepEqual(
      page.body.items.map((u: { name: string }) => u.name),
      ['user 2', 'user 3'],
    );
    assert.deepEqual(page.body.page, { limit: 2, offset: 1, total: 5 });
    const defaults = await call(users.url, 'GET', '/users');
    assert.deepEqual(defaults.body.page, { limit: 20, offset: 0, total: 5 });
  });

  for (const [query, field] of [
    ['limit=0', 'query.limit'],
    ['limit=101', 'query.limit'],
    ['limit=ten', 'query.limit'],
    ['offset=-1', 'query.offset'],
  ]) {
    it(`refuses a page outside its bounds (${query}) naming ${field}`, async () => {
      const reply = await call(users.url, 'GET', `/users?${query}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.code, 'validation_failed');
      assert.equal(reply.body.error.details[0].field, field);
    });
  }

  it('answers 409 when the email is already registered, whatever its case', async () => {
    await register('first', 'same@example.org');
    const second = await register('second', 'SAME@example.org');
    assert.equal(second.status, 409);
    assert.equal(second.body.error.message, 'this email is already registered');
    assert.deepEqual(second.body.error.details, { field: 'email' });
  });

  it('keeps the address of a 409 out of its log line and out of the trace', async () => {
    testTelemetry.reset();
    await register('first', 'taken@example.org');
    assert.equal((await register('second', 'taken@example.org')).status, 409);
    const logged = logs.lines().find((line) => line.msg === 'this email is already registered');
    assert.ok(logged, 'the 409 was not logged: nothing below would be checked');
    const events = testTelemetry.spans.getFinishedSpans().flatMap((span) => span.events);
    assert.ok(
      testTelemetry.spans.getFinishedSpans().some((span) => span.attributes['http.response.status_code'] === 409),
      'the 409 has no server span: nothing below would be checked',
    );
    const telemetry = JSON.stringify({
      lines: logs.lines(),
      events,
      spans: testTelemetry.spans.getFinishedSpans().map((s) => s.attributes),
    });
    assert.doesNotMatch(telemetry, /taken@/);
  });

  it('answers 409 when a replacement takes another user’s email', async () => {
    await register('first', 'one@example.org');
    const two = await register('second', 'two@example.org');
    const reply = await call(users.url, 'PUT', `/users/${two.body.id}`, {
      body: { name: 'x', email: 'one@example.org' },
    });
    assert.equal(reply.status, 409);
  });

  const invalidBodies: Array<[string, unknown, string]> = [
    ['missing name', { email: 'a@example.org' }, 'body.name'],
    ['empty name', { name: '   ', email: 'a@example.org' }, 'body.name'],
    ['name of the wrong type', { name: 42, email: 'a@example.org' }, 'body.name'],
    ['invalid email', { name: 'a', email: 'not-an-email' }, 'body.email'],
    ['missing email', { name: 'a' }, 'body.email'],
    ['unknown field', { name: 'a', email: 'a@example.org', admin: true }, 'body.admin'],
    ['an array instead of an object', [], 'body'],
  ];
  for (const [what, body, field] of invalidBodies) {
    it(`refuses a user with ${what}, naming ${field}`, async () => {
      const reply = await call(users.url, 'POST', '/users', { body });
      assert.equal(reply.status, 400);
      assert.ok(
        reply.body.error.details.some((d: { field: string }) => d.field === field),
        JSON.stringify(reply.body),
      );
      assert.equal((await call(users.url, 'GET', '/users')).body.page.total, 0, 'nothing was stored');
    });
  }

  it('refuses a body that is not JSON with 400', async () => {
    const reply = await call(users.url, 'POST', '/users', { raw: '{"name": "a",' });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error.code, 'malformed_json');
  });

  it('refuses a body over the size limit with 413', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES), email: 'a@example.org' });
    const reply = await call(users.url, 'POST', '/users', { raw: huge });
    assert.equal(reply.status, 413);
    assert.equal(reply.body.error.code, 'payload_too_large');
  });

  it('refuses a body that is not declared as JSON with 415', async () => {
    const reply = await call(users.url, 'POST', '/users', {
      raw: 'name=a',
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(reply.status, 415);
    assert.match(reply.body.error.message, /application\/x-www-form-urlencoded/);
  });

  it('refuses a missing body with 400 naming it', async () => {
    const reply = await call(users.url, 'POST', '/users');
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error.details[0].field, 'body');
  });

  for (const id of ['abc', '0', '-3', '1.5', '99999999999']) {
    it(`answers 400, not 404, for an id of the wrong shape (${id})`, async () => {
      const reply = await call(users.url, 'GET', `/users/${id}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.details[0].field, 'params.id');
    });
  }

  it('answers 404 with a JSON body for a user that does not exist and for an unknown path', async () => {
    const user = await call(users.url, 'GET', '/users/42');
    assert.equal(user.status, 404);
    assert.equal(user.body.error.message, 'user 42 does not exist');
    assert.equal(
      (await call(users.url, 'PUT', '/users/42', { body: { name: 'a', email: 'a@example.org' } })).status,
      404,
    );
    assert.equal((await call(users.url, 'DELETE', '/users/42')).status, 404);
    const path = await call(users.url, 'GET', '/nowhere');
    assert.equal(path.status, 404);
    assert.equal(path.body.error.code, 'not_found');
  });

  it('answers 405 naming the allowed methods for a wrong method', async () => {
    const reply = await call(users.url, 'PATCH', '/users/1');
    assert.equal(reply.status, 405);
    assert.match(reply.body.error.message, /allowed: .*GET/);
  });

  it('puts a request id on every response, keeping a sane one the caller sent', async () => {
    const mine = await call(users.url, 'GET', '/users', { headers: { 'x-request-id': 'req-123' } });
    assert.equal(mine.headers.get('x-request-id'), 'req-123');
    const made = await call(users.url, 'GET', '/nowhere', { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(made.body.request_id, made.headers.get('x-request-id'));
  });

  it('reports live and ready', async () => {
    assert.deepEqual((await call(users.url, 'GET', '/healthz')).body, { status: 'ok' });
    const ready = await call(users.management, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true, checks: { memory: 'ok' } });
  });
});
