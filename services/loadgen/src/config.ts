import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PROFILES, type Profile } from './arrivals';

export const USAGE = `Usage: npm run load -- [options]
       node services/loadgen/dist/src/main.js [options]

Sends the glassbox gateway a deterministic mix of requests (browse products,
view a user, place an order, list a user's orders, ~5% invalid input) at a
fixed arrival rate, whether or not earlier requests have been answered, then
prints what came back. Latency is measured from each request's intended send
time. Seeds a few users and products through the gateway if there are none.

Options (environment variable in brackets):
  --target <url>        the gateway [GATEWAY_URL] (default http://127.0.0.1:8080)
  --rps <n>             requests per second at full rate [LOAD_RPS] (default 10)
  --duration <d>        30s, 2m, 1h, 500ms; 0 runs until SIGTERM [LOAD_DURATION] (default 30s)
  --seed <n>            seed of the request mix, 0 to 4294967295 [LOAD_SEED] (default 1)
  --profile <p>         steady: constant rate; ramp: 10% to 100% of --rps;
                        spike: 5x --rps for the middle 10% [LOAD_PROFILE] (default steady)
  --max-in-flight <n>   above this many unanswered requests, new ones are dropped (default 1000)
  --timeout <d>         per-request timeout (default 10s)
  --wait <d>            how long to wait for the gateway to answer at start (default 60s)
  --status-port <n>     port of GET /healthz, /stats, /metrics; 0 picks one [LOADGEN_PORT] (default 8089)
  -h, --help            print this and exit
The status server listens on LOADGEN_HOST (default 0.0.0.0).

Progress goes to stderr, the summary to stdout. SIGTERM or SIGINT stops
sending, waits up to 5 s for requests in flight, prints the summary, exits 0.
Exit status 2: bad option; 1: the gateway could not be reached or seeded.

Example: npm run load -- --rps 50 --duration 60s --seed 42`;

export interface LoadConfig {
  target: string;
  rps: number;
  /** 0: until stopped. */
  durationMs: number;
  seed: number;
  profile: Profile;
  maxInFlight: number;
  timeoutMs: number;
  /** How long to wait for the gateway at start. */
  waitMs: number;
  statusPort: number;
  /** Where the status server listens. */
  statusHost: string;
}

/** A wrong flag or variable: the message names it; the process exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const duration = z
  .string()
  .trim()
  .regex(DURATION, 'expected a duration such as 500ms, 30s, 2m or 1h')
  .transform((text) => {
    const [, amount, unit] = DURATION.exec(text)!;
    return Math.round(Number(amount) * UNIT_MS[(unit ?? 's') as keyof typeof UNIT_MS]);
  });

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected an integer from ${min} to ${max}` })
    .int(`expected an integer from ${min} to ${max}`)
    .min(min, `expected an integer from ${min} to ${max}`)
    .max(max, `expected an integer from ${min} to ${max}`);

/** One field per option, named as on the command line, so an error can name the flag. */
const options = z
  .object({
    target: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    rps: z.coerce
      .number({ error: 'expected a number of requests per second' })
      .positive('expected more than 0 requests per second')
      .max(100_000, 'expected at most 100000 requests per second'),
    duration,
    seed: integer(0, 4_294_967_295),
    profile: z.enum(PROFILES, { error: `expected one of ${PROFILES.join(', ')}` }),
    'max-in-flight': integer(1, 100_000),
    timeout: duration.refine((ms) => ms > 0, 'expected a duration above 0'),
    wait: duration,
    'status-port': integer(0, 65_535),
    host: z.string().min(1),
  })
  .refine((o) => o.profile === 'steady' || o.duration > 0, {
    path: ['profile'],
    message: 'ramp and spike are shapes over a finite run: give a --duration other than 0',
  });

type OptionName = keyof z.input<typeof options>;

/** Where an option may also come from, for the compose service; the flag wins. */
const ENVIRONMENT: Partial<Record<OptionName, string>> = {
  target: 'GATEWAY_URL',
  rps: 'LOAD_RPS',
  duration: 'LOAD_DURATION',
  seed: 'LOAD_SEED',
  profile: 'LOAD_PROFILE',
  'status-port': 'LOADGEN_PORT',
  host: 'LOADGEN_HOST',
};

const DEFAULTS: Record<OptionName, string> = {
  target: 'http://127.0.0.1:8080',
  rps: '10',
  duration: '30s',
  seed: '1',
  profile: 'steady',
  'max-in-flight': '1000',
  timeout: '10s',
  wait: '60s',
  'status-port': '8089',
  // Every interface, as the services do: inside a container, the health check and Prometheus come from outside.
  host: '0.0.0.0',
};

/** Reads the command line (flags first, then the environment, then defaults). `undefined`: --help was asked. */
export function readConfig(argv: string[], environment: NodeJS.ProcessEnv = process.env): LoadConfig | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        rps: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        profile: { type: 'string' },
        'max-in-flight': { type: 'string' },
        timeout: { type: 'string' },
        wait: { type: 'string' },
        'status-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return undefined;

  const raw = {} as Record<OptionName, string>;
  const from = {} as Record<OptionName, string>;
  for (const name of Object.keys(DEFAULTS) as OptionName[]) {
    const flag = values[name];
    const variable = ENVIRONMENT[name];
    const fromEnvironment = variable === undefined ? undefined : environment[variable];
    if (typeof flag === 'string') [raw[name], from[name]] = [flag, `--${name}`];
    else if (fromEnvironment !== undefined && fromEnvironment !== '') {
      [raw[name], from[name]] = [fromEnvironment, `${variable} (--${name})`];
    } else [raw[name], from[name]] = [DEFAULTS[name], `--${name}`];
  }

  const result = options.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = issue.path[0] as OptionName;
      return `${from[name]}: ${issue.message} (got '${raw[name]}')`;
    });
    throw new UsageError(lines.join('\n'));
  }
  const parsed = result.data;
  return {
    target: parsed.target,
    rps: parsed.rps,
    durationMs: parsed.duration,
    seed: parsed.seed,
    profile: parsed.profile,
    maxInFlight: parsed['max-in-flight'],
    timeoutMs: parsed.timeout,
    waitMs: parsed.wait,
    statusPort: parsed['status-port'],
    statusHost: parsed.host,
  };
}
