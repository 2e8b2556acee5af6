/**
 * The load generator's process. Wiring only: options, signals, exit status.
 * Started WITHOUT the telemetry preload (and with OTEL_SDK_DISABLED=true in
 * compose): it measures the platform and must not be part of what it measures.
 */
import { readConfig, UsageError, USAGE, type LoadConfig } from './config';
import { runLoad } from './load';

async function main(): Promise<number> {
  let config: LoadConfig | undefined;
  try {
    config = readConfig(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`loadgen: ${error.message}\n\nRun with --help for the options.\n`);
    return 2;
  }
  if (config === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) process.stderr.write(`\nloadgen: ${signal}: stopping\n`);
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return runLoad(config, { stdout: process.stdout, stderr: process.stderr, stop: stop.signal });
}

main().then(
  // exit() rather than waiting for the event loop: keep-alive sockets to the gateway would hold it for seconds.
  (exitCode) => process.exit(exitCode),
  (error: unknown) => {
    process.stderr.write(`loadgen: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
