/**
 * OTLP log records, read from the protobuf body the collector's otlp_http
 * exporter POSTs to /otlp/v1/logs, and turned into what Loki 3 makes of them:
 * a line, index labels and structured metadata. The log sink
 * (log-sink.ts) stores these; its queries read them.
 *
 * Only the fields Loki keeps are decoded, straight from the protobuf wire
 * format (opentelemetry-proto, logs/v1 and common/v1): a generic protobuf
 * library would need the .proto files, and these few messages do not.
 *
 * Loki's mapping (its OTLP ingestion documentation, defaults of 3.x):
 * - a handful of resource attributes become index labels (service.name ->
 *   service_name, service.instance.id -> service_instance_id, ...);
 * - every other attribute (resource, scope, log record) and the record's
 *   trace_id, span_id, severity_text and severity_number become structured
 *   metadata, with dots and other characters Loki refuses in names made `_`;
 * - the body is the line, turned into a string when it is not one;
 * - detected_level is added from the severity number (Loki's
 *   discover_log_levels, on by default), as Grafana colours lines by it.
 */

/** One log line, as Loki would store it. */
export interface StoredLogLine {
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  line: string;
  /** Index labels: what a stream selector {...} matches. */
  labels: Record<string, string>;
  /** Structured metadata: what a label filter after `|` matches too. */
  metadata: Record<string, string>;
}

/** Resource attributes Loki 3 indexes by default (distributor.otlp_config). */
const INDEX_LABEL_ATTRIBUTES = new Set([
  'cloud.availability_zone',
  'cloud.region',
  'container.name',
  'deployment.environment',
  'deployment.environment.name',
  'k8s.cluster.name',
  'k8s.container.name',
  'k8s.cronjob.name',
  'k8s.daemonset.name',
  'k8s.deployment.name',
  'k8s.job.name',
  'k8s.namespace.name',
  'k8s.pod.name',
  'k8s.replicaset.name',
  'k8s.statefulset.name',
  'service.instance.id',
  'service.name',
  'service.namespace',
]);

/** A protobuf field as it sits on the wire: its number, and its value by wire type. */
type WireField =
  | { number: number; type: 'varint'; value: bigint }
  | { number: number; type: 'fixed64'; value: Buffer }
  | { number: number; type: 'bytes'; value: Buffer }
  | { number: number; type: 'fixed32'; value: Buffer };

function readVarint(buffer: Buffer, offset: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  let position = offset;
  for (;;) {
    if (position >= buffer.length) throw new Error('truncated protobuf varint');
    const byte = buffer[position++] as number;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: position };
    shift += 7n;
  }
}

/** The fields of one protobuf message, in order (repeated fields appear once per element). */
function fields(message: Buffer): WireField[] {
  const found: WireField[] = [];
  let offset = 0;
  while (offset < message.length) {
    const key = readVarint(message, offset);
    const number = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    offset = key.next;
    if (wireType === 0) {
      const { value, next } = readVarint(message, offset);
      found.push({ number, type: 'varint', value });
      offset = next;
    } else if (wireType === 1) {
      found.push({ number, type: 'fixed64', value: message.subarray(offset, offset + 8) });
      offset += 8;
    } else if (wireType === 2) {
      const length = readVarint(message, offset);
      const end = length.next + Number(length.value);
      if (end > message.length) throw new Error('truncated protobuf field');
      found.push({ number, type: 'bytes', value: message.subarray(length.next, end) });
      offset = end;
    } else if (wireType === 5) {
      found.push({ number, type: 'fixed32', value: message.subarray(offset, offset + 4) });
      offset += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
  return found;
}

const bytesOf = (all: WireField[], number: number): Buffer[] =>
  all
    .filter((f): f is Extract<WireField, { type: 'bytes' }> => f.number === number && f.type === 'bytes')
    .map((f) => f.value);
const firstBytes = (all: WireField[], number: number): Buffer | undefined => bytesOf(all, number)[0];
const text = (all: WireField[], number: number): string => firstBytes(all, number)?.toString('utf8') ?? '';

/** An AnyValue, as a JSON-like value (kvlists as objects, arrays as arrays). */
type Attribute = string | number | boolean | Attribute[] | { [key: string]: Attribute };

function anyValue(message: Buffer): Attribute {
  const [field] = fields(message);
  if (!field) return '';
  switch (field.number) {
    case 1:
      return field.type === 'bytes' ? field.value.toString('utf8') : '';
    case 2:
      return field.type === 'varint' && field.value !== 0n;
    case 3:
      // int64 on the wire is two's complement in 64 bits.
      return field.type === 'varint' ? Number(BigInt.asIntN(64, field.value)) : 0;
    case 4:
      return field.type === 'fixed64' ? field.value.readDoubleLE(0) : 0;
    case 5:
      return field.type === 'bytes' ? bytesOf(fields(field.value), 1).map(anyValue) : [];
    case 6:
      return field.type === 'bytes' ? keyValues(bytesOf(fields(field.value), 1)) : {};
    case 7:
      return field.type === 'bytes' ? field.value.toString('base64') : '';
    default:
      return '';
  }
}

function keyValues(messages: Buffer[]): Record<string, Attribute> {
  const attributes: Record<string, Attribute> = {};
  for (const message of messages) {
    const kv = fields(message);
    const value = firstBytes(kv, 2);
    attributes[text(kv, 1)] = value ? anyValue(value) : '';
  }
  return attributes;
}

/** The collector's AsString: strings as they are, everything else as JSON. */
function asString(value: Attribute): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Loki's label name rule: letters, digits and `_`, not starting with a digit. */
const labelName = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1');

/** Attributes as labels: names normalised, nested maps flattened with `_` (as Loki's json parser does). */
function flatten(attributes: Record<string, Attribute>, into: Record<string, string>, prefix = ''): void {
  for (const [key, value] of Object.entries(attributes)) {
    const name = labelName(prefix + key);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) flatten(value, into, `${name}_`);
    else into[name] = asString(value);
  }
}

/** Loki's detected_level for an OTLP severity number (ranges of the OpenTelemetry log data model). */
function detectedLevel(severityNumber: number): string {
  if (severityNumber === 0) return 'unknown';
  if (severityNumber <= 4) return 'trace';
  if (severityNumber <= 8) return 'debug';
  if (severityNumber <= 12) return 'info';
  if (severityNumber <= 16) return 'warn';
  if (severityNumber <= 20) return 'error';
  return 'fatal';
}

const fixed64 = (all: WireField[], number: number): bigint => {
  const field = all.find((f) => f.number === number && f.type === 'fixed64');
  return field?.type === 'fixed64' ? field.value.readBigUInt64LE(0) : 0n;
};

/** Every log record of an ExportLogsServiceRequest, as Loki would store it. */
export function decodeLogs(body: Buffer, receivedAt = BigInt(Date.now()) * 1_000_000n): StoredLogLine[] {
  const lines: StoredLogLine[] = [];
  for (const resourceLogs of bytesOf(fields(body), 1)) {
    const resourceFields = fields(resourceLogs);
    const resource = keyValues(bytesOf(fields(firstBytes(resourceFields, 1) ?? Buffer.alloc(0)), 1));
    const labels: Record<string, string> = {};
    const resourceMetadata: Record<string, string> = {};
    for (const [key, value] of Object.entries(resource)) {
      if (INDEX_LABEL_ATTRIBUTES.has(key)) labels[labelName(key)] = asString(value);
      else flatten({ [key]: value }, resourceMetadata);
    }
    for (const scopeLogs of bytesOf(resourceFields, 2)) {
      const scopeFields = fields(scopeLogs);
      const scope = fields(firstBytes(scopeFields, 1) ?? Buffer.alloc(0));
      const scopeMetadata: Record<string, string> = {};
      if (text(scope, 1)) scopeMetadata.scope_name = text(scope, 1);
      if (text(scope, 2)) scopeMetadata.scope_version = text(scope, 2);
      flatten(keyValues(bytesOf(scope, 3)), scopeMetadata);
      for (const record of bytesOf(scopeFields, 2)) {
        const recordFields = fields(record);
        const metadata: Record<string, string> = { ...resourceMetadata, ...scopeMetadata };
        flatten(keyValues(bytesOf(recordFields, 6)), metadata);
        const severity = recordFields.find((f) => f.number === 2 && f.type === 'varint');
        const severityNumber = severity?.type === 'varint' ? Number(severity.value) : 0;
        if (severityNumber) metadata.severity_number = String(severityNumber);
        if (text(recordFields, 3)) metadata.severity_text = text(recordFields, 3);
        metadata.detected_level = detectedLevel(severityNumber);
        const traceId = firstBytes(recordFields, 9);
        const spanId = firstBytes(recordFields, 10);
        // An all-zero id means "not in a span": Loki leaves such ids out.
        if (traceId?.some((b) => b !== 0)) metadata.trace_id = traceId.toString('hex');
        if (spanId?.some((b) => b !== 0)) metadata.span_id = spanId.toString('hex');
        const bodyValue = firstBytes(recordFields, 5);
        const timeNs = fixed64(recordFields, 1) || fixed64(recordFields, 11) || receivedAt;
        lines.push({ timeNs, line: bodyValue ? asString(anyValue(bodyValue)) : '', labels: { ...labels }, metadata });
      }
    }
  }
  return lines;
}
