import type { LoadConfig } from './config';
import type { Percentiles, TallySnapshot } from './tally';

/** The table printed on stdout at the end of a run. */
export function formatSummary(run: TallySnapshot, config: LoadConfig): string {
  const length = config.durationMs === 0 ? 'until stopped' : `for ${formatDuration(config.durationMs)}`;
  const rows: Array<[string, string, string?]> = [
    ['due', String(run.due), 'requests whose send time came'],
    ['sent', String(run.sent)],
    ['dropped', String(run.dropped), `not sent: the in-flight limit (${config.maxInFlight}) was reached`],
    ['completed', String(run.completed), 'answered with the expected status'],
    ['errors', String(run.errors), 'another status, or no answer'],
    ...Object.entries(run.errorsByStatus).map(([status, n]): [string, string] => [`  HTTP ${status}`, String(n)]),
    ...Object.entries(run.errorsByKind).map(([kind, n]): [string, string] => [`  ${kind}`, String(n)]),
  ];
  if (run.inFlight > 0) rows.push(['in flight', String(run.inFlight), 'still unanswered']);
  const statuses = Object.entries(run.responsesByStatus)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');

  return [
    `glassbox loadgen: ${config.profile} ${config.rps} req/s ${length}, seed ${config.seed}, target ${config.target}`,
    '',
    ...rows.map(([name, value, note]) => `  ${name.padEnd(14)} ${value.padStart(9)}${note ? `   ${note}` : ''}`),
    '',
    `  responses by status  ${statuses || 'none'}`,
    `  throughput           ${run.throughput.toFixed(1)} responses/s over ${run.elapsedSeconds.toFixed(1)} s`,
    '',
    '  latency (ms)                         p50        p95        p99        max',
    `  from intended send time      ${percentileRow(run.latencyMs)}`,
    `  from actual send (service)   ${percentileRow(run.serviceTimeMs)}`,
    '',
  ].join('\n');
}

function percentileRow(p: Percentiles): string {
  return [p.p50, p.p95, p.p99, p.max].map((ms) => ms.toFixed(1).padStart(11)).join('');
}

/** 90000 → "1m30s", 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes}m` : `${minutes}m${String(seconds).padStart(2, '0')}s`;
}
