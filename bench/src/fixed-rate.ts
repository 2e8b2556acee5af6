import { Agent, request } from 'node:http';

export interface FixedRateResult {
  sent: number;
  failed: number;
  /** Milliseconds, from the moment each request was handed to the HTTP client. */
  p50: number;
  p99: number;
}

/**
 * Latency at a fixed arrival rate, open model: request i is due at
 * start + i / rate whether or not earlier ones have answered, so a stall of
 * the service is charged to every request sent during it (no coordinated
 * omission: sending never waits for an answer, and a request that waits for a
 * free connection waits on the clock). Its latency counts from the moment it
 * was handed to the HTTP client, not from its due time: a timer that fires
 * late in this process (the host's scheduling, its garbage collection) is
 * the load generator's delay, not the service's, and counted from the due
 * time it put milliseconds of the machine into every mode's p99.
 * Microsecond timing; keep-alive connections.
 */
export async function measureAtFixedRate(url: string, rate: number, seconds: number): Promise<FixedRateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      new Promise<void>((resolve) => {
        const sent = performance.now();
        const req = request(target, { agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - sent);
            else failed++;
            resolve();
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => {
          failed++;
          resolve();
        });
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { sent: total, failed, p50: at(0.5), p99: at(0.99) };
}
