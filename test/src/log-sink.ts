/**
 * The native stack's stand-in for Loki, which can not run on the machines
 * that test glassbox (no container engine, and it is not packaged for them).
 * It accepts what the collector's otlp_http/loki exporter sends, exactly as
 * Loki's OTLP endpoint would (POST /otlp/v1/logs, protobuf), keeps the most
 * recent log lines in memory the way Loki would store them (otlp-logs.ts),
 * and answers log queries in Loki's API shape:
 *
 *   GET /ready                          200 once listening (Loki's own readiness path)
 *   GET /loki/api/v1/query_range        query, start, end, limit, direction, as Loki 3.7 takes them;
 *                                       answers {status, data: {resultType: "streams", result}}
 *
 * It answers the part of LogQL that glassbox's dashboards and links use
 * (logql.ts) and refuses the rest with a 400 that names what it does not
 * answer, so a panel that needs more fails its end-to-end test here instead
 * of passing on a query that would mean something else. Under docker
 * compose the real Loki 3.7 takes this place, with the same collector
 * config, and the same tests run against it unchanged.
 */
import { createServer, type ServerResponse } from 'node:http';
import { gunzipSync, inflateSync, zstdDecompressSync } from 'node:zlib';
import { InvalidLogQuery, parseLogQuery, selects, UnsupportedLogQuery } from './logql';
import { decodeLogs, type StoredLogLine } from './otlp-logs';

/** The collector's otlphttp exporter compresses (gzip by default), as it would for Loki. */
function decompress(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  if (encoding === 'zstd') return zstdDecompressSync(body);
  return body;
}

/** Memory stays bounded: the oldest lines go first, as a test needs minutes of logs, not hours. */
const MAX_LINES = 100_000;
/** Loki's defaults for query_range: the last hour, 100 lines, newest first. */
const DEFAULT_RANGE_NS = 3_600_000_000_000n;
const DEFAULT_LIMIT = 100;

const stored: StoredLogLine[] = [];
const port = Number(process.env.LOKI_PORT ?? 3100);
const host = process.env.HOST ?? '127.0.0.1';

/** A time as Loki's API takes it: nanoseconds, (fractional) seconds, or RFC 3339. */
function parseTime(value: string | null, fallback: bigint): bigint {
  if (!value) return fallback;
  if (/^\d+$/.test(value)) return value.length > 12 ? BigInt(value) : BigInt(value) * 1_000_000_000n;
  if (/^\d+\.\d+$/.test(value)) return BigInt(Math.round(Number(value) * 1e6)) * 1000n;
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidLogQuery(`cannot parse time ${JSON.stringify(value)}`);
  return BigInt(parsed) * 1_000_000n;
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * Loki's answer to a log query: the selected lines grouped into streams, one
 * per distinct label set. Without the categorize-labels encoding flag (which
 * Grafana sends, and this suite does not), Loki folds a line's structured
 * metadata into its stream's labels: trace_id is among them.
 */
function queryRange(url: URL): unknown {
  const query = parseLogQuery(url.searchParams.get('query') ?? '');
  const now = BigInt(Date.now()) * 1_000_000n;
  const end = parseTime(url.searchParams.get('end'), now);
  const start = parseTime(url.searchParams.get('start'), end - DEFAULT_RANGE_NS);
  const limit = Number(url.searchParams.get('limit') ?? DEFAULT_LIMIT);
  if (!Number.isInteger(limit) || limit <= 0) throw new InvalidLogQuery(`limit must be a positive integer`);
  const forward = url.searchParams.get('direction') === 'forward';
  // Loki's range is [start, end): end is exclusive.
  const selected = stored.filter((entry) => entry.timeNs >= start && entry.timeNs < end && selects(query, entry));
  const earlierFirst = (a: StoredLogLine, b: StoredLogLine) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0);
  selected.sort((a, b) => (forward ? earlierFirst(a, b) : earlierFirst(b, a)));
  const streams = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>();
  for (const entry of selected.slice(0, limit)) {
    const labels = { ...entry.metadata, ...entry.labels };
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    const stream = streams.get(key) ?? { stream: labels, values: [] };
    stream.values.push([String(entry.timeNs), entry.line]);
    streams.set(key, stream);
  }
  return { status: 'success', data: { resultType: 'streams', result: [...streams.values()] } };
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://sink');
  if (request.method === 'POST' && url.pathname === '/otlp/v1/logs') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        stored.push(...decodeLogs(decompress(Buffer.concat(chunks), request.headers['content-encoding'])));
      } catch (error) {
        response.writeHead(400).end(`could not read the OTLP logs: ${(error as Error).message}`);
        return;
      }
      if (stored.length > MAX_LINES) stored.splice(0, stored.length - MAX_LINES);
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
    return;
  }
  if (request.method === 'GET' && url.pathname === '/ready') {
    response.writeHead(200).end('ready');
    return;
  }
  if (request.method === 'GET' && url.pathname === '/loki/api/v1/query_range') {
    try {
      reply(response, 200, queryRange(url));
    } catch (error) {
      // Loki answers a query it can not run with a 400 and a plain-text reason.
      const refused = error instanceof InvalidLogQuery || error instanceof UnsupportedLogQuery;
      response.writeHead(refused ? 400 : 500, { 'content-type': 'text/plain' }).end((error as Error).message);
    }
    return;
  }
  response.writeHead(404).end();
});

server.listen(port, host, () => process.stdout.write(`log sink listening on ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
