// What services import from the telemetry package. The bootstrap itself
// (./register) is NOT exported here: it is preloaded, never imported.
export { flushTelemetry } from './lifecycle';
export { createHttpMetrics, OTHER_METHOD, UNMATCHED_ROUTE, type HttpMetrics } from './metrics';
export { createLogger, type Logger } from './logger';
export { traceRoute } from './route';
export { activeTraceIds, type TraceIds } from './trace-context';
