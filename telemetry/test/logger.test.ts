import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, maskEmails, maskEmailsInLine } from '../src/logger';
import { testTelemetry } from '../src/testing';

/** A logger whose lines are kept, raw, as they would reach stdout. */
function capture(): { logger: ReturnType<typeof createLogger>; raw: () => string } {
  let written = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ name: 'logger-test', level: 'debug', destination }), raw: () => written };
}

const lines = (raw: string) =>
  raw
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the logger masks email addresses', () => {
  beforeEach(() => testTelemetry.reset());

  it('in the message, as a***@domain', () => {
    const { logger, raw } = capture();
    logger.info('email ada.lovelace@example.org is already registered');
    assert.equal(lines(raw())[0]!.msg, 'email a***@example.org is already registered');
    assert.doesNotMatch(raw(), /lovelace/);
  });

  it('in interpolated arguments, fields, nested objects, arrays and child bindings', () => {
    const { logger, raw } = capture();
    const child = logger.child({ caller: 'grace@example.org' });
    child.info(
      { user: { email: 'Alan.Turing@Example.ORG', aliases: ['alan@bletchley.example'] }, note: 'to: ken@example.org;' },
      'sent to %s',
      'barbara@example.org',
    );
    const [line] = lines(raw());
    assert.equal(line!.msg, 'sent to b***@example.org');
    assert.deepEqual(line!.user, { email: 'A***@Example.ORG', aliases: ['a***@bletchley.example'] });
    assert.equal(line!.note, 'to: k***@example.org;');
    assert.equal(line!.caller, 'g***@example.org');
  });

  it('in an error: its message, its stack and what it carries (a PostgreSQL detail)', () => {
    const { logger, raw } = capture();
    const error = Object.assign(new Error('duplicate key for edsger@example.org'), {
      detail: 'Key (email)=(edsger@example.org) already exists.',
    });
    logger.error({ err: error }, 'request failed');
    logger.warn(new Error('no mailbox for donald@example.org'));
    const [first, second] = lines(raw());
    const err = first!.err as { message: string; stack: string; detail: string; type: string };
    assert.equal(err.message, 'duplicate key for e***@example.org');
    assert.match(err.stack, /^Error: duplicate key for e\*\*\*@example\.org\n\s+at /);
    assert.equal(err.detail, 'Key (email)=(e***@example.org) already exists.');
    assert.equal(err.type, 'Error', 'the error is still serialized as pino does it');
    assert.equal(second!.msg, 'no mailbox for d***@example.org');
    assert.doesNotMatch(raw(), /edsger|donald/);
  });

  it('in what the OpenTelemetry logs pipeline exports to Loki, not only on stdout', () => {
    const { logger } = capture();
    logger.info({ email: 'margaret@example.org', marker: 'otlp-check' }, 'welcome margaret@example.org');
    const record = testTelemetry.logs.getFinishedLogRecords().find((r) => r.attributes.marker === 'otlp-check');
    assert.ok(record, 'the pino instrumentation exported no log record: the check below would prove nothing');
    assert.equal(record.body, 'welcome m***@example.org');
    assert.equal(record.attributes.email, 'm***@example.org');
  });

  it('URL-encoded and non-ASCII addresses too', () => {
    assert.equal(maskEmails('GET /users?email=ada%40example.org'), 'GET /users?email=a***%40example.org');
    assert.equal(maskEmails('josé.garcía@exämple.es'), 'j***@exämple.es');
    assert.equal(maskEmails("o'brien+tag@mail.example.co.uk"), 'o***@mail.example.co.uk');
    // A JSON parser's excerpt of a bad body stops after 10 characters, sometimes right after the @.
    assert.equal(
      maskEmails('Unexpected token \'a\', "ada.lovel@"... is not valid JSON'),
      'Unexpected token \'a\', "a***@"... is not valid JSON',
    );
  });

  it('leaves alone what only looks like an address: versions, scoped packages, bare @', () => {
    for (const text of [
      'at /app/node_modules/@opentelemetry/api/build/index.js:1:2',
      'koa@3.3.0 and node@24.21.0',
      'user@localhost',
      'ping @ 10:00',
    ]) {
      assert.equal(maskEmails(text), text);
    }
  });

  it('passes a line without an address through unchanged, and keeps every line valid JSON', () => {
    const plain = '{"level":30,"msg":"listening","port":8081}\n';
    assert.equal(maskEmailsInLine(plain), plain, 'same string, not parsed and rewritten');
    // An escape right before the address: masking the raw text could cut through "\u0001".
    const tricky = `${JSON.stringify({ msg: '\u0001ada@example.org\\"x@example.org' })}\n`;
    const masked = maskEmailsInLine(tricky);
    assert.ok(masked.endsWith('\n'));
    assert.deepEqual(JSON.parse(masked), { msg: '\u0001a***@example.org\\"x***@example.org' });
  });
});
