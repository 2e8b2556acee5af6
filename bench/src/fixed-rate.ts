import { Agent, request } from 'node:http';

export interface FixedRateResult {
  sent: number;
  failed: number;
  /** Milliseconds, measured from each request's intended send time. */
  p50: number;
  p99: number;
}

/**
 * Latency at a fixed arrival rate, open model: request i is due at
 * start + i / rate whether or not earlier ones have answered, and its latency
 * counts from that due time, so a stall is charged to every request it delays
 * (no coordinated omission). Microsecond timing; keep-alive connections.
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
        const req = request(target, { agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - due);
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
