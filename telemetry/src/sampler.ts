import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import { EDGE_POLICY_ATTRIBUTE } from './edge';

const ROOT_SAMPLERS: Record<string, (ratio: number) => Sampler> = {
  always_on: () => new AlwaysOnSampler(),
  always_off: () => new AlwaysOffSampler(),
  traceidratio: (ratio) => new TraceIdRatioBasedSampler(ratio),
};
const PARENT_BASED = 'parentbased_';
const DEFAULT_SAMPLER = 'parentbased_always_on';

/**
 * What OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG configure, with the
 * standard's names, default and fallbacks (an unknown name or a ratio out of
 * [0, 1] is reported and replaced by the default, as NodeSDK does), split in
 * two: `standard` is the sampler as configured, `root` the decision it makes
 * for a span without a parent (`parentbased_traceidratio` -> the ratio).
 */
export function samplersFromEnvironment(environment: NodeJS.ProcessEnv = process.env): {
  root: Sampler;
  standard: Sampler;
} {
  const configured = environment.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || DEFAULT_SAMPLER;
  const build = ROOT_SAMPLERS[rootOf(configured)];
  if (!build) {
    process.stderr.write(`telemetry: unknown OTEL_TRACES_SAMPLER "${configured}", using ${DEFAULT_SAMPLER}\n`);
    return { root: new AlwaysOnSampler(), standard: new ParentBasedSampler({ root: new AlwaysOnSampler() }) };
  }
  const root = build(ratioFrom(environment.OTEL_TRACES_SAMPLER_ARG));
  return { root, standard: configured.startsWith(PARENT_BASED) ? new ParentBasedSampler({ root }) : root };
}

const rootOf = (name: string) => (name.startsWith(PARENT_BASED) ? name.slice(PARENT_BASED.length) : name);

function ratioFrom(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 1;
  const ratio = Number(value);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  process.stderr.write(`telemetry: OTEL_TRACES_SAMPLER_ARG "${value}" is not a ratio in [0, 1], using 1\n`);
  return 1;
}

/**
 * The sampler of a process that may serve edge requests. The server span of
 * a request that came in through the edge (marked by the edge hooks) gets the
 * ROOT decision, as if it had no parent: the `-01` or `-00` a caller wrote in
 * its traceparent neither forces tracing on nor switches it off. Every other
 * span, including everything below that server span, gets the standard
 * (parent-based) decision, so a trace stays whole once the edge has decided.
 */
export class EdgeSampler implements Sampler {
  constructor(
    private readonly root: Sampler,
    private readonly standard: Sampler,
  ) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const atTheEdge = spanKind === SpanKind.SERVER && attributes[EDGE_POLICY_ATTRIBUTE] !== undefined;
    const sampler = atTheEdge ? this.root : this.standard;
    return sampler.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `EdgeSampler{edge=${this.root.toString()}, otherwise=${this.standard.toString()}}`;
  }
}
