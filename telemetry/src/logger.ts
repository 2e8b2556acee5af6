import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * An email address, as it may appear in a log line: a local part, `@` (or
 * `%40`, URL-encoded), and a domain whose last label starts with a letter, so
 * that `koa@3.3.0` in a stack trace or a package path is left alone. Letters
 * and digits of any script: `josé@exämple.org` is an address too. Or an
 * address cut right after its `@`, as a parser's excerpt of a bad request
 * body may show it (`"ada.lovelace@"... is not valid JSON`).
 */
const EMAIL = /([\p{L}\p{N}_%+'-])[\p{L}\p{N}._%+'-]*(@|%40)((?:[\p{L}\p{N}-]+\.)+\p{L}[\p{L}\p{N}-]*|(?=["'\s]|$))/gu;

/** `ada.lovelace@example.org` -> `a***@example.org`: enough to tell two users apart in a log, not to write to one. */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, '$1***$2$3');
}

/** Every string inside a parsed log line, masked; keys are kept as they are. */
function maskStrings(value: unknown): unknown {
  if (typeof value === 'string') return maskEmails(value);
  if (Array.isArray(value)) return value.map(maskStrings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, maskStrings(child)]));
  }
  return value;
}

/**
 * The last step before a log line leaves the process, and the one place where
 * email addresses are masked. By then pino has put everything into the line:
 * the message, every field, the child logger's bindings, an error's message,
 * its stack and whatever the error carries (a PostgreSQL error's `detail` says
 * "Key (email)=(...) already exists"). The line is JSON, so it is parsed and
 * its strings masked one by one: a pattern replaced in the raw text could cut
 * through an escape sequence and break the line. Most lines hold no `@` at all
 * and are passed on untouched, unparsed.
 */
export function maskEmailsInLine(line: string): string {
  if (!line.includes('@') && !line.includes('%40')) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return maskEmails(line);
  }
  return `${JSON.stringify(maskStrings(parsed))}\n`;
}

/**
 * The glassbox logger: JSON lines on stdout.
 *
 * Nothing here mentions traces, and that is the lesson: the pino
 * instrumentation (loaded by the preload) adds trace_id, span_id and
 * trace_flags to every line written inside a span, and sends each record to
 * the OpenTelemetry logs pipeline as well, so the collector forwards it to Loki.
 *
 * Logs are read by more people than the data they describe (anyone who may open
 * Grafana may read Loki), so personal data stays out of them: email addresses
 * are masked in every line, whoever wrote it. The hook runs on the finished
 * line, before pino hands it to its stream; the instrumentation's OTLP stream
 * sits behind the same hook, so stdout and Loki get the same, masked line.
 */
export function createLogger(options: { name?: string; level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: options.name ?? process.env.OTEL_SERVICE_NAME },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: maskEmailsInLine },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
