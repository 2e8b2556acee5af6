/**
 * The native stack's stand-in for Loki, which can not run on the machines
 * that test glassbox (no container engine, and it is not packaged for them).
 * It accepts what the collector's otlphttp/loki exporter sends, exactly as
 * Loki's OTLP endpoint would (POST /otlp/v1/logs, protobuf), keeps the last
 * payloads in memory, and answers the one question the end-to-end suite asks:
 * did a log record with this trace id arrive?
 *
 *   GET /ready                        200 once listening (Loki's own readiness path)
 *   GET /loki/api/v1/query_range?query={service_name=~".+"} | trace_id="<32 hex>"
 *                                     Loki's answer shape, one stream per matching payload
 *
 * Only that one query form is understood: the end-to-end suite asks it the
 * way it would ask the real Loki, so it runs unchanged against either.
 * Trace ids travel as 16 raw bytes inside the protobuf, so the search looks
 * for those bytes; no OTLP decoding needed. Under docker compose the real
 * Loki 3 takes this place, with the same collector config.
 */
import { createServer } from 'node:http';
import { gunzipSync, inflateSync, zstdDecompressSync } from 'node:zlib';

/** The collector's otlphttp exporter compresses (gzip by default), as it would for Loki. */
function decode(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  if (encoding === 'zstd') return zstdDecompressSync(body);
  return body;
}

const MAX_PAYLOADS = 5_000;
const payloads: Buffer[] = [];
const port = Number(process.env.LOKI_PORT ?? 3100);
const host = process.env.HOST ?? '127.0.0.1';

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://sink');
  if (request.method === 'POST' && url.pathname === '/otlp/v1/logs') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        payloads.push(decode(Buffer.concat(chunks), request.headers['content-encoding']));
      } catch {
        response.writeHead(400).end('could not decompress the body');
        return;
      }
      if (payloads.length > MAX_PAYLOADS) payloads.shift();
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
    return;
  }
  if (request.method === 'GET' && url.pathname === '/ready') {
    response.writeHead(200).end('ready');
    return;
  }
  if (request.method === 'GET' && url.pathname === '/loki/api/v1/query_range') {
    const query = url.searchParams.get('query') ?? '';
    const traceId = /trace_id\s*=\s*"([0-9a-f]{32})"/.exec(query)?.[1];
    if (!traceId) {
      const error = 'this log sink understands only queries with | trace_id="<32 hex digits>"';
      response.writeHead(400, { 'content-type': 'text/plain' }).end(error);
      return;
    }
    const needle = Buffer.from(traceId, 'hex');
    const matching = payloads.filter((payload) => payload.includes(needle));
    const now = `${Date.now()}000000`;
    const result = matching.map(() => ({
      stream: { trace_id: traceId },
      values: [[now, `OTLP payload with trace ${traceId}`]],
    }));
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'success', data: { resultType: 'streams', result } }));
    return;
  }
  response.writeHead(404).end();
});

server.listen(port, host, () => process.stdout.write(`log sink listening on ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
