/**
 * When each request is due. This is the OPEN model: the schedule is fixed
 * before the run and does not wait for answers, the way real users keep
 * arriving whether or not the site is slow. (A closed loop, "send, wait for the
 * answer, send the next", slows down exactly when the system does, and so
 * under-reports the stalls a load test is meant to find.)
 */
export const PROFILES = ['steady', 'ramp', 'spike'] as const;
export type Profile = (typeof PROFILES)[number];

/** ramp: the rate climbs linearly from this share of --rps to all of it. */
export const RAMP_START_SHARE = 0.1;
/** spike: the rate is multiplied by this... */
export const SPIKE_FACTOR = 5;
/** ...between these two points of the run (the middle 10%). */
export const SPIKE_WINDOW = [0.45, 0.55] as const;

/**
 * The send times, in ms from the start of the run, in order. Request i is due
 * when the number of requests the profile asks for so far reaches i: the
 * inverse of the cumulative rate, in closed form for each profile, so the
 * times do not drift however long the run. `durationMs` 0 means no end
 * (steady only: ramp and spike are shapes over a known duration).
 */
export function* arrivalTimes(profile: Profile, rps: number, durationMs: number): Generator<number> {
  if (!(rps > 0)) throw new RangeError(`rps must be positive, got ${rps}`);
  if (durationMs === 0 && profile !== 'steady') throw new RangeError(`profile ${profile} needs a finite duration`);
  const duration = durationMs === 0 ? Infinity : durationMs / 1000;
  const dueAt = inverseCumulative(profile, rps, duration);
  for (let i = 0; ; i++) {
    const seconds = dueAt(i);
    if (seconds >= duration) return;
    yield seconds * 1000;
  }
}

/** For each profile: the time (s) at which the i-th request is due. */
function inverseCumulative(profile: Profile, rps: number, duration: number): (i: number) => number {
  switch (profile) {
    case 'steady':
      return (i) => i / rps;
    case 'ramp': {
      // rate(t) = rps * (s + (1 - s) * t / D), so count(t) = rps * (s t + (1 - s) t^2 / 2D);
      // solve a t^2 + b t - i = 0 for t.
      const a = (rps * (1 - RAMP_START_SHARE)) / (2 * duration);
      const b = rps * RAMP_START_SHARE;
      return (i) => (-b + Math.sqrt(b * b + 4 * a * i)) / (2 * a);
    }
    case 'spike': {
      const [from, to] = [SPIKE_WINDOW[0] * duration, SPIKE_WINDOW[1] * duration];
      const beforeSpike = rps * from;
      const afterSpike = beforeSpike + SPIKE_FACTOR * rps * (to - from);
      return (i) => {
        if (i < beforeSpike) return i / rps;
        if (i < afterSpike) return from + (i - beforeSpike) / (SPIKE_FACTOR * rps);
        return to + (i - afterSpike) / rps;
      };
    }
  }
}
