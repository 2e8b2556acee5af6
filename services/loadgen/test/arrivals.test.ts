import assert from 'node:assert/strict';
import { arrivalTimes } from '../src/arrivals';

/** How many arrivals fall in [fromShare, toShare) of the run. */
function countBetween(times: number[], durationMs: number, fromShare: number, toShare: number): number {
  return times.filter((t) => t >= fromShare * durationMs && t < toShare * durationMs).length;
}

describe('arrival schedules', () => {
  it('steady: evenly spaced at the rate, first request at 0, none at or after the end', () => {
    const times = [...arrivalTimes('steady', 200, 2000)];
    assert.equal(times.length, 400);
    assert.equal(times[0], 0);
    times.forEach((t, i) => assert.ok(Math.abs(t - i * 5) < 1e-9));
    assert.ok(times.at(-1)! < 2000);
  });

  it('ramp: climbs linearly from 10% to 100% of the rate over the run', () => {
    const [rps, durationMs] = [100, 60_000];
    const times = [...arrivalTimes('ramp', rps, durationMs)];
    // The area under the rate: 100 * 60 * (0.1 + 1) / 2.
    assert.ok(Math.abs(times.length - 3300) <= 1, `${times.length}`);
    // Each tenth of the run gets the average rate over it: (0.1 + 0.09 k + 0.045) * rps * 6 s.
    for (let k = 0; k < 10; k++) {
      const expected = (0.1 + 0.09 * k + 0.045) * rps * 6;
      const seen = countBetween(times, durationMs, k / 10, (k + 1) / 10);
      assert.ok(Math.abs(seen - expected) <= 1, `tenth ${k}: ${seen} arrivals, expected ${expected}`);
    }
    // The gaps: 1 / (0.1 * rps) at the start, 1 / rps at the end.
    assert.ok(Math.abs(times[1]! - times[0]! - 100) < 1);
    assert.ok(Math.abs(times.at(-1)! - times.at(-2)! - 10) < 0.1);
  });

  it('spike: the base rate, with five times it for the middle 10% of the run', () => {
    const [rps, durationMs] = [50, 20_000];
    const times = [...arrivalTimes('spike', rps, durationMs)];
    assert.equal(times.length, 50 * 20 * 1.4);
    const perTenth = Array.from({ length: 10 }, (_, k) => countBetween(times, durationMs, k / 10, (k + 1) / 10));
    // Tenths 4 and 5 each hold half of the spike window (45%-50%, 50%-55%).
    assert.deepEqual(perTenth, [100, 100, 100, 100, 300, 300, 100, 100, 100, 100]);
    assert.equal(countBetween(times, durationMs, 0.45, 0.55), 5 * rps * 2);
    assert.equal(countBetween(times, durationMs, 0.35, 0.45), rps * 2);
  });

  it('never decreases, whatever the profile', () => {
    for (const profile of ['steady', 'ramp', 'spike'] as const) {
      const times = [...arrivalTimes(profile, 37, 9_000)];
      times.slice(1).forEach((t, i) => assert.ok(t >= times[i]!, `${profile} at ${i}`));
    }
  });

  it('runs forever only for steady', () => {
    const endless = arrivalTimes('steady', 10, 0);
    for (let i = 0; i < 10_000; i++) endless.next();
    assert.equal(endless.next().value, 10_000 * 100);
    assert.throws(() => arrivalTimes('ramp', 10, 0).next(), /finite duration/);
    assert.throws(() => arrivalTimes('spike', 10, 0).next(), /finite duration/);
  });
});
