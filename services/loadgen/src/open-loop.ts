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
  const cancel = new AbortController();
  const inFlight = new Set<Promise<void>>();
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
    const exchange = send(request, due, options, cancel.signal).finally(() => inFlight.delete(exchange));
    inFlight.add(exchange);
  }

  await drain(inFlight, options, cancel);
  tally.end(performance.now());
}

async function send(request: PlannedRequest, due: number, options: OpenLoopOptions, cancel: AbortSignal) {
  const { tally } = options;
  tally.sent += 1;
  const sentAt = performance.now();
  try {
    const response = await fetch(options.target.replace(/\/$/, '') + request.path, {
      method: request.method,
      headers: {
        'user-agent': 'glassbox-loadgen',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), cancel]),
    });
    await response.arrayBuffer();
    const answeredAt = performance.now();
    tally.recordResponse(response.status, request.expectedStatus, answeredAt - due, answeredAt - sentAt);
  } catch (error) {
    tally.recordFailure(failureKind(error));
  }
}

/**
 * After the last request: wait for the answers (each is bounded by its own
 * timeout). After a stop: wait at most `drainMs`, then cancel the rest, so
 * that SIGTERM ends the process in seconds, not in a request timeout.
 */
async function drain(inFlight: Set<Promise<void>>, options: OpenLoopOptions, cancel: AbortController) {
  const settled = Promise.all(inFlight);
  if (!options.stop?.aborted) await Promise.race([settled, whenAborted(options.stop)]);
  if (inFlight.size > 0) {
    const grace = new AbortController();
    await Promise.race([settled, sleep(options.drainMs, undefined, { signal: grace.signal }).catch(() => undefined)]);
    grace.abort();
    cancel.abort(new DOMException('cancelled at shutdown', 'AbortError'));
  }
  await settled;
}

function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => undefined);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Names why no answer came: timeout, cancelled, or the socket error's code (ECONNREFUSED, ECONNRESET...). */
export function failureKind(error: unknown): string {
  const name = (error as { name?: unknown }).name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'cancelled';
  const cause = (error as { cause?: { code?: unknown; name?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.name === 'string') return cause.name;
  return typeof name === 'string' ? name : 'unknown';
}
