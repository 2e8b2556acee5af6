import assert from 'node:assert/strict';
import type { LoadConfig } from '../src/config';
import { formatDuration, formatSummary } from '../src/summary';
import { Tally } from '../src/tally';

const config: LoadConfig = {
  target: 'http://127.0.0.1:8080',
  rps: 50,
  durationMs: 60_000,
  seed: 42,
  profile: 'steady',
  maxInFlight: 1000,
  timeoutMs: 10_000,
  waitMs: 60_000,
  statusPort: 8089,
  statusHost: '0.0.0.0',
};

describe('the summary', () => {
  it('breaks the errors down by status and by reason, and keeps sent = completed + errors', () => {
    const tally = new Tally();
    tally.begin(0);
    tally.due = 7;
    tally.dropped = 1;
    tally.sent = 6;
    tally.recordResponse(200, 200, 12, 2);
    tally.recordResponse(201, 201, 20, 3);
    tally.recordResponse(500, 201, 30, 4);
    tally.recordResponse(404, 200, 40, 5);
    tally.recordFailure('timeout');
    tally.recordFailure('ECONNRESET');
    tally.end(2000);

    const summary = formatSummary(tally.snapshot(2000), config);
    assert.match(summary, /^glassbox loadgen: steady 50 req\/s for 1m, seed 42, target http:\/\/127\.0\.0\.1:8080$/m);
    for (const [name, value] of [
      ['due', 7],
      ['sent', 6],
      ['dropped', 1],
      ['completed', 2],
      ['errors', 4],
      ['  HTTP 404', 1],
      ['  HTTP 500', 1],
      ['  timeout', 1],
      ['  ECONNRESET', 1],
    ] as const) {
      assert.match(summary, new RegExp(`^ {2}${name} +${value}\\b`, 'm'), `${name} in\n${summary}`);
    }
    assert.doesNotMatch(summary, /in flight/);
    assert.match(summary, /responses by status +200: 1, 201: 1, 404: 1, 500: 1$/m);
    assert.match(summary, /throughput +2\.0 responses\/s over 2\.0 s/);
    // 12, 20, 30 and 40 ms from the intended time (20 ms reported as the top of its 0.13 ms bucket); 2 to 5 ms from the actual send.
    assert.match(summary, /from intended send time +20\.1 +40\.0 +40\.0 +40\.0$/m);
    assert.match(summary, /from actual send \(service\) +3\.0 +5\.0 +5\.0 +5\.0$/m);
  });

  it('says how long the run was meant to be', () => {
    assert.deepEqual([500, 30_000, 90_000, 120_000, 3_600_000].map(formatDuration), [
      '0.5s',
      '30s',
      '1m30s',
      '2m',
      '60m',
    ]);
    assert.match(formatSummary(new Tally().snapshot(0), { ...config, durationMs: 0 }), /until stopped/);
  });
});
