import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { formatDuration } from './summary';
import type { Tally } from './tally';

export interface ProgressOptions {
  tally: Tally;
  /** 0: no end, so no bar, only the counts. */
  durationMs: number;
  stream: Writable;
  /** A terminal gets a bar redrawn in place; a log file gets one line every 5 s. */
  tty: boolean;
}

const BAR_WIDTH = 24;

/** Shows how the run is going until the returned function is called. */
export function showProgress(options: ProgressOptions): () => void {
  const { tally, durationMs, stream, tty } = options;
  const line = () => {
    const elapsedMs = tally.elapsedSeconds(performance.now()) * 1000;
    const counts =
      `sent ${tally.sent}  ok ${tally.completed}  errors ${tally.errors}  dropped ${tally.dropped}  ` +
      `in flight ${tally.inFlight}  p99 ${tally.latency.percentile(99).toFixed(0)} ms`;
    if (durationMs === 0) return `${formatDuration(elapsedMs)}  ${counts}`;
    const done = Math.min(1, elapsedMs / durationMs);
    const bar = tty ? `[${'#'.repeat(Math.round(done * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}] ` : '';
    return `${bar}${(done * 100).toFixed(0).padStart(3)}%  ${formatDuration(elapsedMs)}/${formatDuration(durationMs)}  ${counts}`;
  };

  if (!tty) {
    const timer = setInterval(() => stream.write(`loadgen: ${line()}\n`), 5000);
    return () => clearInterval(timer);
  }
  // \r returns to the start of the line and \x1b[K clears what a longer previous line left behind.
  const draw = () => stream.write(`\r${line()}\x1b[K`);
  const timer = setInterval(draw, 200);
  return () => {
    clearInterval(timer);
    draw();
    stream.write('\n');
  };
}
