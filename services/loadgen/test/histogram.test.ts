import assert from 'node:assert/strict';
import { LatencyHistogram } from '../src/histogram';

describe('the latency histogram', () => {
  it('is exact below a quarter of a millisecond', () => {
    const histogram = new LatencyHistogram();
    [0.1, 0.2, 0.25].forEach((ms) => histogram.record(ms));
    assert.equal(histogram.percentile(50), 0.2);
    assert.equal(histogram.percentile(100), 0.25);
  });

  it('reports percentiles within 1%, rounded up, never below the truth', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 10_000; ms++) histogram.record(ms);
    for (const [percent, truth] of [
      [50, 5000],
      [95, 9500],
      [99, 9900],
      [99.9, 9990],
    ] as const) {
      const reported = histogram.percentile(percent);
      assert.ok(reported >= truth && reported <= truth * 1.01, `p${percent}: ${reported}, truth ${truth}`);
    }
    assert.equal(histogram.max, 10_000);
    assert.equal(histogram.count, 10_000);
  });

  it('puts every value of a wide range in a bucket that holds it, 0.8% wide at most', () => {
    for (let micros = 1; micros < 2 ** 30; micros = Math.ceil(micros * 1.37)) {
      const histogram = new LatencyHistogram();
      histogram.record(micros / 1000);
      histogram.record(2 ** 30 / 1000); // so that the top of the first bucket is not capped by the maximum
      const reported = Math.round(histogram.percentile(50) * 1000);
      assert.ok(reported >= micros && reported <= micros * 1.008, `${micros} µs reported as ${reported}`);
    }
    assert.equal(new LatencyHistogram().percentile(99), 0);
  });
});
