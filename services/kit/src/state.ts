import type { Logger } from '@glassbox/telemetry';

/** What the kit's middleware puts on `ctx.state` for every request, before a route runs. */
export interface AppState {
  requestId: string;
  /** The request's logger: every line carries the request id (and, through the pino instrumentation, the trace id). */
  log: Logger;
}
