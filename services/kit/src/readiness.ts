export interface ReadinessCheck {
  /** What is checked, e.g. "postgres". */
  name: string;
  /** Resolves when the dependency answers; rejects otherwise. */
  check: () => Promise<unknown>;
}

export interface ReadinessReport {
  ready: boolean;
  /** "ok", or what went wrong. */
  checks: Record<string, string>;
}

/** A probe must answer quickly even when a dependency hangs. */
const CHECK_TIMEOUT_MS = 2000;

export async function checkReadiness(checks: ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS, `${name} did not answer within ${CHECK_TIMEOUT_MS} ms`);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, `failed: ${(error as Error).message}`] as const;
      }
    }),
  );
  return { ready: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
