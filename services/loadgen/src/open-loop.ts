import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { PlannedRequest } from './journeys';
import type { Tally } from './tally';

export interface OpenLoopOptions {
  /** The gateway's base URL; each request's path is appended to it. */
  target: string;
  plan: Iterable<PlannedRequest>;
  tally: Tally;
  /** More than this many unanswered requests, and the next ones due are dropped, not queued. */
  maxInFlight: number;
  /** Per request, answer body included. */
  timeoutMs: number;
  /** Aborted: stop sending; what is in flight gets `drainMs` to finish, then is cancelled. */
  stop?: AbortSignal;
  drainMs: number;
}

/** Without a pause now and then, a generator running behind would never let the answers in. */
const LAUNCHES_BETWEEN_PAUSES = 64;

/**
 * Sends each planned request when it is due, whether or not the earlier ones
 * have been answered (the open model), and times every answer from when the
 * request was DUE, not from when it left. If the generator or the machine
 * stalls, the requests that fell due meanwhile go out late, and their wait
 * is counted: timing from the actual send would hide exactly that stall
 * ("coordinated omission"). Resolves once the plan is done (or stopped) and
 * every request sent has ended.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<void> {
  const { tally } = options;
  /** Each request in flight, by the controller that can abort it. */
  const inFlight = new Map<AbortController, Promise<void>>();
  const start = performance.now();
  tally.begin(start);

  let launchedInARow = 0;
  for (const request of options.plan) {
    const due = start + request.at;
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
      launchedInARow = 0;
      await sleep(Math.ceil(wait), undefined, { signal: options.stop }).catch(() => undefined);
      if (options.stop?.aborted) break;
    }
    if (options.stop?.aborted) break;
    if (++launchedInARow >= LAUNCHES_BETWEEN_PAUSES) {
      launchedInARow = 0;
      await nextTurn();
    }

    tally.due += 1;
    if (inFlight.size >= options.maxInFlight) {
      tally.dropped += 1;
      continue;
    }
    const abort = new AbortController();
    inFlight.set(
      abort,
      send(request, due, options, abort).finally(() => inFlight.delete(abort)),
    );
  }

  await drain(inFlight, options);
  tally.end(performance.now());
}

async function send(request: PlannedRequest, due: number, options: OpenLoopOptions, abort: AbortController) {
  const { tally } = options;
  tally.sent += 1;
  const sentAt = performance.now();
  // The timeout is a timer cleared on the answer, rather than AbortSignal.timeout: at 2000 req/s with a
  // 10 s timeout that would keep 20000 timers and signals alive for answers that came in a millisecond.
  const timeout = setTimeout(
    () => abort.abort(new DOMException(`no answer within ${options.timeoutMs} ms`, 'TimeoutError')),
    options.timeoutMs,
  );
  try {
    const response = await fetch(options.target.replace(/\/$/, '') + request.path, {
      method: request.method,
      headers: {
        'user-agent': 'glassbox-loadgen',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: request.body,
      redirect: 'manual',
      signal: abort.signal,
    });
    await response.arrayBuffer();
    const answeredAt = performance.now();
    tally.recordResponse(response.status, request.expectedStatus, answeredAt - due, answeredAt - sentAt);
  } catch (error) {
    tally.recordFailure(failureKind(error));
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * After the last request: wait for the answers (each is bounded by its own
 * timeout). After a stop: wait at most `drainMs`, then cancel the rest, so
 * that SIGTERM ends the process in seconds, not in a request timeout.
 */
async function drain(inFlight: Map<AbortController, Promise<void>>, options: OpenLoopOptions) {
  const settled = Promise.all(inFlight.values());
  if (!options.stop?.aborted) await Promise.race([settled, whenAborted(options.stop)]);
  if (inFlight.size > 0) {
    const grace = new AbortController();
    await Promise.race([settled, sleep(options.drainMs, undefined, { signal: grace.signal }).catch(() => undefined)]);
    grace.abort();
    for (const abort of inFlight.keys()) abort.abort(new DOMException('cancelled at shutdown', 'AbortError'));
  }
  await settled;
}

function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => undefined);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Names why no answer came: timeout, cancelled, the socket error's code (ECONNREFUSED, ECONNRESET...) or message. */
export function failureKind(error: unknown): string {
  const name = (error as { name?: unknown }).name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'cancelled';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
