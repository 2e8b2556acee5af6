import assert from 'node:assert/strict';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InvalidLogQuery, parseLogQuery, selects, UnsupportedLogQuery } from '../src/logql';
import { decodeLogs, type StoredLogLine } from '../src/otlp-logs';

/**
 * The native stack's stand-in for Loki (test/src/log-sink.ts) is what the
 * end-to-end suite runs the dashboards' log queries against, so it must store
 * a log record as Loki 3 does and select lines as LogQL says. Records here
 * are made by the OpenTelemetry SDK and encoded by its own OTLP protobuf
 * serializer, the bytes an exporter sends.
 */

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function encodedRecords(): Buffer {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': 'orders',
      'service.namespace': 'glassbox',
      'service.instance.id': 'd728b51f',
      'host.name': 'vm',
    }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('@opentelemetry/instrumentation-pino', '0.70.0');
  const inSpan = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    traceFlags: TraceFlags.SAMPLED,
  });
  logger.emit({
    severityNumber: 17,
    severityText: 'error',
    body: 'request failed: internal error',
    attributes: { status: 500, err: { type: 'Error', message: 'boom' } },
    context: inSpan,
  });
  logger.emit({
    severityNumber: 9,
    severityText: 'info',
    body: 'order placed',
    attributes: { order_id: 42 },
    context: inSpan,
  });
  logger.emit({ severityNumber: 13, severityText: 'warn', body: 'RabbitMQ connection failed; retrying' });
  return Buffer.from(ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords()) as Uint8Array);
}

describe('the native stack’s log store (test/src/log-sink.ts): OTLP in, Loki’s lines out', () => {
  let lines: StoredLogLine[];
  before(() => {
    lines = decodeLogs(encodedRecords());
  });
  const byLine = (text: string) => lines.find((l) => l.line === text) as StoredLogLine;

  it('keeps each OTLP record as a line with the index labels Loki makes of the resource', () => {
    assert.deepEqual(
      lines.map((l) => l.line),
      ['request failed: internal error', 'order placed', 'RabbitMQ connection failed; retrying'],
    );
    assert.deepEqual(byLine('order placed').labels, {
      service_name: 'orders',
      service_namespace: 'glassbox',
      service_instance_id: 'd728b51f',
    });
  });

  it('keeps the trace id, severity and attributes as structured metadata, with Loki’s names', () => {
    const failed = byLine('request failed: internal error').metadata;
    assert.equal(failed.trace_id, TRACE_ID);
    assert.equal(failed.span_id, SPAN_ID);
    assert.equal(failed.severity_number, '17');
    assert.equal(failed.severity_text, 'error');
    assert.equal(failed.detected_level, 'error');
    assert.equal(failed.status, '500');
    assert.equal(failed.err_message, 'boom', 'nested attributes are flattened with _');
    assert.equal(failed.host_name, 'vm', 'resource attributes that are not labels');
    assert.equal(failed.scope_name, '@opentelemetry/instrumentation-pino');
    assert.equal(byLine('RabbitMQ connection failed; retrying').metadata.trace_id, undefined, 'no span, no trace id');
  });

  it('selects lines by stream selector, label and number filters, and line filters, as LogQL does', () => {
    const selected = (expr: string) =>
      lines.filter((line) => selects(parseLogQuery(expr), line)).map((line) => line.line);
    assert.equal(selected('{service_name="orders"}').length, 3);
    assert.deepEqual(selected('{service_name="users"}'), []);
    assert.deepEqual(selected('{service_name=~"ord.+"} | severity_number >= 13'), [
      'request failed: internal error',
      'RabbitMQ connection failed; retrying',
    ]);
    assert.deepEqual(selected(`{service_instance_id="d728b51f"} | trace_id="${TRACE_ID}" |= "placed"`), [
      'order placed',
    ]);
    assert.deepEqual(selected('{service_name="orders"} | trace_id!="" != "placed"'), [
      'request failed: internal error',
    ]);
    assert.deepEqual(selected('{service_name="orders"} |~ "(?i)rabbitmq"'), ['RabbitMQ connection failed; retrying']);
    // Label regexes are anchored: "ord" alone matches no service_name.
    assert.deepEqual(selected('{service_name=~"ord"}'), []);
  });

  it('refuses what Loki refuses, and names the LogQL it does not answer', () => {
    assert.throws(() => parseLogQuery('{service_name=""}'), InvalidLogQuery);
    assert.throws(() => parseLogQuery('{service_name="orders"'), InvalidLogQuery);
    assert.throws(() => parseLogQuery('{service_name="orders"} | logfmt'), /does not answer.*logfmt/);
    assert.throws(() => parseLogQuery('{service_name="orders"} | status >= 500 or status = 404'), UnsupportedLogQuery);
    assert.throws(() => parseLogQuery('count_over_time({service_name="orders"}[5m])'), UnsupportedLogQuery);
  });
});
