import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { ensureCatalog } from './catalog';
import type { LoadConfig } from './config';
import { planRequests } from './journeys';
import { runOpenLoop } from './open-loop';
import { showProgress } from './progress';
import { startStatusServer, type StatusServer } from './status-server';
import { formatSummary } from './summary';
import { Tally } from './tally';

export interface LoadIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  /** Aborted on SIGTERM / SIGINT. */
  stop: AbortSignal;
}

/** How long requests in flight may take to finish once the run is stopped. */
const DRAIN_MS = 5000;

/**
 * One run: status server, catalog, the open loop with its progress, the
 * summary. Resolves with the process's exit status.
 */
export async function runLoad(config: LoadConfig, io: LoadIo): Promise<number> {
  const log = (line: string) => io.stderr.write(`loadgen: ${line}\n`);
  const tally = new Tally();

  let status: StatusServer | undefined;
  try {
    status = await startStatusServer(tally, config.statusHost, config.statusPort);
    log(`status on http://${config.statusHost}:${status.port} (/healthz, /stats, /metrics)`);
  } catch (error) {
    // A second run beside the compose one should still work: it only loses its status endpoints.
    log(`no status server: port ${config.statusPort}: ${(error as Error).message}`);
  }

  try {
    let catalog;
    try {
      catalog = await ensureCatalog({
        target: config.target,
        waitMs: config.waitMs,
        requestTimeoutMs: config.timeoutMs,
        log,
        stop: io.stop,
      });
    } catch (error) {
      if (io.stop.aborted) {
        log('stopped before the first request');
        return 0;
      }
      log(`could not prepare the data: ${(error as Error).message}`);
      return 1;
    }
    log(
      `${catalog.userIds.length} users, ${catalog.productIds.length} products; ` +
        `${config.profile} at ${config.rps} req/s, seed ${config.seed}`,
    );

    const hideProgress = showProgress({
      tally,
      durationMs: config.durationMs,
      stream: io.stderr,
      tty: io.stderr.isTTY === true,
    });
    try {
      await runOpenLoop({
        target: config.target,
        plan: planRequests({ ...config, catalog }),
        tally,
        maxInFlight: config.maxInFlight,
        timeoutMs: config.timeoutMs,
        stop: io.stop,
        drainMs: DRAIN_MS,
      });
    } finally {
      hideProgress();
    }
    io.stdout.write(formatSummary(tally.snapshot(performance.now()), config));
    return 0;
  } finally {
    await status?.close();
  }
}
