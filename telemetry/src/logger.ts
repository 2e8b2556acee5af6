import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The glassbox logger: JSON lines on stdout.
 *
 * Nothing here mentions traces, and that is the lesson: the pino
 * instrumentation (loaded by the preload) adds trace_id, span_id and
 * trace_flags to every line written inside a span, and sends each record to
 * the OpenTelemetry logs pipeline as well, so the collector forwards it to Loki.
 */
export function createLogger(options: { name?: string; level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: options.name ?? process.env.OTEL_SERVICE_NAME },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
