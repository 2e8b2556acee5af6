/**
 * A small seeded pseudo-random generator. Math.random can not be seeded, and
 * a load test whose traffic changes on every run can not be compared with the
 * previous one: the same --seed must give the same requests.
 *
 * mulberry32: 32 bits of state, one multiply-xorshift per draw. Far from
 * cryptographic, more than good enough to pick the next journey.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max], both included. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(choices: readonly T[]): T {
    if (choices.length === 0) throw new Error('nothing to pick from');
    return choices[Math.floor(this.next() * choices.length)]!;
  }

  /** One of `choices`, each as likely as its weight. */
  weighted<T>(choices: ReadonlyArray<readonly [weight: number, choice: T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let point = this.next() * total;
    for (const [weight, choice] of choices) {
      point -= weight;
      if (point < 0) return choice;
    }
    return choices[choices.length - 1]![1];
  }
}
