import assert from 'node:assert/strict';
import {
  AppError,
  badRequest,
  conflict,
  dependencyUnavailable,
  methodNotAllowed,
  notFound,
  unprocessable,
  upstreamTimeout,
  upstreamUnreachable,
} from '../src/errors';

describe('AppError and its helpers', () => {
  it('gives each kind of client mistake its status and a stable code', () => {
    const made = [
      badRequest('body.email: Invalid email address', [{ field: 'body.email', message: 'Invalid email address' }]),
      notFound('user 7 does not exist'),
      methodNotAllowed('DELETE is not allowed on /users'),
      conflict('email already registered', { email: 'ada@example.org' }),
      unprocessable('order has no items', { items: [] }),
    ];

    assert.deepEqual(
      made.map((error) => [error.status, error.code, error.expose]),
      [
        [400, 'validation_failed', true],
        [404, 'not_found', true],
        [405, 'method_not_allowed', true],
        [409, 'conflict', true],
        [422, 'unprocessable', true],
      ],
    );
    assert.deepEqual(made[0]?.details, [{ field: 'body.email', message: 'Invalid email address' }]);
    assert.deepEqual(made[3]?.details, { email: 'ada@example.org' });
  });

  it('every dependency failure (502, 503, 504) has the same shape: exposed, with details.dependency and the cause', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');

    const made = [
      upstreamUnreachable('users', cause),
      dependencyUnavailable('users', cause),
      upstreamTimeout('users', 2000, cause),
    ];

    assert.deepEqual(
      made.map((error) => ({
        status: error.status,
        code: error.code,
        message: error.message,
        expose: error.expose,
        details: error.details,
        cause: error.cause,
      })),
      [
        {
          status: 502,
          code: 'upstream_unreachable',
          message: 'users could not be reached',
          expose: true,
          details: { dependency: 'users' },
          cause,
        },
        {
          status: 503,
          code: 'dependency_unavailable',
          message: 'users is unavailable',
          expose: true,
          details: { dependency: 'users' },
          cause,
        },
        {
          status: 504,
          code: 'upstream_timeout',
          message: 'users did not answer within 2000 ms',
          expose: true,
          details: { dependency: 'users' },
          cause,
        },
      ],
    );
  });

  it('lets a 503 say more than "unavailable" while still naming the dependency', () => {
    const error = dependencyUnavailable('RabbitMQ', undefined, 'RabbitMQ did not confirm the event');

    assert.equal(error.message, 'RabbitMQ did not confirm the event');
    assert.deepEqual(error.details, { dependency: 'RabbitMQ' });
  });

  it('never exposes a 500, or any 5xx that is not about a dependency', () => {
    for (const status of [500, 501, 505]) {
      assert.equal(new AppError(status, 'internal', 'the stack says why').expose, false, `status ${status}`);
    }
  });

  it('is an Error with its own name, so logs and stacks say what it is', () => {
    const error = notFound('user 7 does not exist');

    assert.ok(error instanceof Error);
    assert.equal(error.name, 'AppError');
    assert.match(String(error.stack), /^AppError: user 7 does not exist/);
  });
});
