/**
 * How a service asks the preloaded SDK to flush, without importing it.
 *
 * The bootstrap is loaded with --require and is never imported by app code, so
 * the two meet through one well-known global symbol: the bootstrap registers
 * its shutdown there; the service kit calls flushTelemetry() as the last step
 * of a graceful stop. Without the bootstrap (OTEL_SDK_DISABLED=true, or plain
 * unit tests) it is a no-op.
 */
const KEY = Symbol.for('glassbox.telemetry.shutdown');

type Shutdown = () => Promise<void>;
type Registry = { [KEY]?: Shutdown };

export function registerTelemetryShutdown(shutdown: Shutdown): void {
  (globalThis as Registry)[KEY] = shutdown;
}

/** Flushes and stops all three signals, waiting at most `timeoutMs`. */
export async function flushTelemetry(timeoutMs = 3000): Promise<void> {
  const shutdown = (globalThis as Registry)[KEY];
  if (!shutdown) return;
  delete (globalThis as Registry)[KEY];
  let timer: NodeJS.Timeout | undefined;
  // An unreachable collector must not hold a stopping process hostage.
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([shutdown().catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
