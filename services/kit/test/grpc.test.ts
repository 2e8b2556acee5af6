import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import {
  AppError,
  badRequest,
  conflict,
  dependencyUnavailable,
  notFound,
  unprocessable,
  upstreamTimeout,
} from '../src/errors';
import { appErrorFromGrpc, grpcListener, grpcStatusOf, unaryHandler } from '../src/grpc';
import type { Listener } from '../src/service';
import { captureLogs } from '../src/testing';

/** A gRPC failure as a client receives it. */
function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

describe('the HTTP ↔ gRPC status table', () => {
  it('gives every AppError a caller can act on its gRPC status', () => {
    const cases: Array<[AppError, grpc.status]> = [
      [badRequest('id: must be a positive integer'), grpc.status.INVALID_ARGUMENT],
      [notFound('product 99 does not exist'), grpc.status.NOT_FOUND],
      [conflict('product 2 has 3 in stock, 4 requested'), grpc.status.FAILED_PRECONDITION],
      [unprocessable('no items'), grpc.status.FAILED_PRECONDITION],
      [dependencyUnavailable('postgres'), grpc.status.UNAVAILABLE],
      [upstreamTimeout('postgres', 5000), grpc.status.DEADLINE_EXCEEDED],
    ];

    for (const [error, expected] of cases) {
      assert.equal(grpcStatusOf(error), expected, `HTTP ${error.status} → ${grpc.status[expected]}`);
    }
  });

  it('reports anything else, a bug or a 500, as INTERNAL', () => {
    assert.equal(grpcStatusOf(new Error('undefined is not a function')), grpc.status.INTERNAL);
    assert.equal(grpcStatusOf(new AppError(500, 'internal', 'internal error')), grpc.status.INTERNAL);
    assert.equal(grpcStatusOf('a thrown string'), grpc.status.INTERNAL);
  });

  it("turns a gRPC status back into the AppError its caller would have got over HTTP, with the server's message", () => {
    const back = (code: grpc.status) => appErrorFromGrpc('products', serviceError(code, 'what the server said'), 2000);

    assert.deepEqual(
      [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION].map((code) => {
        const error = back(code);
        return [error.status, error.code, error.message];
      }),
      [
        [400, 'validation_failed', 'what the server said'],
        [404, 'not_found', 'what the server said'],
        [409, 'conflict', 'what the server said'],
      ],
    );
  });

  it('turns a passed deadline into a 504 and every other failure into a 503, both naming the dependency', () => {
    const late = serviceError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
    const timedOut = appErrorFromGrpc('products', late, 2000);

    assert.equal(timedOut.status, 504);
    assert.equal(timedOut.message, 'products did not answer within 2000 ms');
    assert.deepEqual(timedOut.details, { dependency: 'products' });
    assert.equal(timedOut.cause, late);
    for (const code of [grpc.status.UNAVAILABLE, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.CANCELLED]) {
      const failure = serviceError(code, 'server-side detail');
      const error = appErrorFromGrpc('products', failure, 2000);
      assert.deepEqual(
        [error.status, error.message, error.details, error.cause],
        [503, 'products is unavailable', { dependency: 'products' }, failure],
        grpc.status[code],
      );
    }
  });

  it('carries 400, 404, 409, 503 and 504 across a gRPC hop unchanged', () => {
    const sent = [
      badRequest('bad'),
      notFound('gone'),
      conflict('taken'),
      dependencyUnavailable('postgres'),
      upstreamTimeout('postgres', 2000),
    ];

    const received = sent.map(
      (error) => appErrorFromGrpc('products', serviceError(grpcStatusOf(error), error.message), 2000).status,
    );

    assert.deepEqual(
      received,
      sent.map((error) => error.status),
    );
  });
});

interface EchoRequest {
  say?: string;
  fail?: 'not-found' | 'bug' | 'database';
  waitMs?: number;
}
interface EchoReply {
  said: string;
}

/** A one-method service with JSON messages: enough to exercise the kit without a .proto file. */
const ECHO_PATH = '/glassbox.test.Echo/Echo';
const toJson = (value: unknown) => Buffer.from(JSON.stringify(value));
const definition: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: toJson,
    requestDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as EchoRequest,
    responseSerialize: toJson,
    responseDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as EchoReply,
  },
};

async function echo(request: EchoRequest): Promise<EchoReply> {
  if (request.waitMs) await sleep(request.waitMs);
  if (request.fail === 'not-found') throw notFound('thing 7 does not exist');
  if (request.fail === 'bug') throw new Error('secret: a null where none was expected');
  if (request.fail === 'database') throw dependencyUnavailable('postgres', new Error('connect ECONNREFUSED'));
  return { said: request.say ?? '' };
}

function callEcho(client: grpc.Client, request: EchoRequest, deadlineMs = 5000): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      ECHO_PATH,
      toJson,
      (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as EchoReply,
      request,
      { deadline: Date.now() + deadlineMs },
      (error, reply) => (error ? reject(error) : resolve(reply!)),
    );
  });
}

/** Asserts that `promise` fails with gRPC status `code`, and with `details` (exactly, or matching). */
async function rejectsWith(promise: Promise<unknown>, code: grpc.status, details: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: grpc.ServiceError) => {
    assert.equal(grpc.status[error.code], grpc.status[code]);
    if (typeof details === 'string') assert.equal(error.details, details);
    else assert.match(error.details, details);
    return true;
  });
}

describe('unaryHandler on a grpcListener, over a real gRPC connection', () => {
  let logs: ReturnType<typeof captureLogs>;
  let listener: Listener;
  let port: number;
  let client: grpc.Client;

  beforeEach(async () => {
    logs = captureLogs('kit');
    listener = grpcListener({
      definition,
      handlers: { Echo: unaryHandler('Echo', logs.logger, echo) },
      logger: logs.logger,
      config: { HOST: '127.0.0.1', GRPC_PORT: 50051 },
    });
    port = await listener.start(0);
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterEach(async () => {
    client.close();
    await listener.stop(1000);
  });

  const linesAt = (level: number) => logs.lines().filter((line) => line.level === level);

  it('listens on a free port when asked for port 0, and answers a call', async () => {
    const reply = await callEcho(client, { say: 'hello' });

    assert.notEqual(port, 50051);
    assert.ok(port > 0);
    assert.deepEqual(reply, { said: 'hello' });
    assert.ok(logs.lines().some((line) => line.msg === 'listening' && line.port === port && line.listener === 'grpc'));
  });

  it('answers an AppError with its gRPC status and its own message, logged below error level', async () => {
    await rejectsWith(callEcho(client, { fail: 'not-found' }), grpc.status.NOT_FOUND, 'thing 7 does not exist');

    assert.ok(linesAt(30).some((line) => line.msg === 'Echo refused: thing 7 does not exist'));
    assert.deepEqual(linesAt(50), []);
  });

  it('answers an unexpected error with INTERNAL and "internal error", the real message only in the log', async () => {
    await rejectsWith(callEcho(client, { fail: 'bug' }), grpc.status.INTERNAL, 'internal error');

    const [logged, ...more] = linesAt(50);
    assert.equal(more.length, 0);
    assert.equal(logged?.msg, 'Echo failed: internal error');
    assert.equal((logged?.err as { message: string }).message, 'secret: a null where none was expected');
  });

  it('answers a dependency failure with UNAVAILABLE naming the dependency, logged as an error', async () => {
    await rejectsWith(callEcho(client, { fail: 'database' }), grpc.status.UNAVAILABLE, 'postgres is unavailable');

    assert.equal(linesAt(50).length, 1);
  });

  it('on stop, lets a call in flight finish, then refuses new calls', async () => {
    const slow = callEcho(client, { say: 'late', waitMs: 300 });
    await sleep(100);

    const stopping = listener.stop(5000);

    assert.deepEqual(await slow, { said: 'late' });
    await stopping;
    await rejectsWith(callEcho(client, { say: 'again' }, 1000), grpc.status.UNAVAILABLE, /ECONNREFUSED/);
  });

  it('on stop, cancels a call that outlives the deadline, and says so in the log', async () => {
    const outcome = callEcho(client, { say: 'too late', waitMs: 2000 }).then(
      () => 'answered',
      (error: grpc.ServiceError) => grpc.status[error.code],
    );
    await sleep(100);
    const started = Date.now();

    await listener.stop(200);

    const took = Date.now() - started;
    assert.equal(await outcome, 'CANCELLED');
    assert.ok(took >= 190 && took < 1000, `stop took ${took} ms`);
    assert.ok(
      linesAt(40).some((line) => line.msg === 'gRPC calls still in flight after the shutdown timeout; cancelling them'),
    );
  });

  it('refuses a port that is taken, and starts cleanly on a free one afterwards', async () => {
    const second = grpcListener({
      definition,
      handlers: { Echo: unaryHandler('Echo', logs.logger, echo) },
      logger: logs.logger,
      config: { HOST: '127.0.0.1', GRPC_PORT: port },
    });

    // grpc-js also prints the bind failure on stderr; the rejection is what matters here.
    grpc.setLogVerbosity(grpc.logVerbosity.NONE);
    try {
      await assert.rejects(second.start(), /No address added/);
    } finally {
      grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
    }
    const other = await second.start(0);

    assert.notEqual(other, port);
    await second.stop(1000);
  });
});
