import assert from 'node:assert/strict';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { EDGE_POLICY_ATTRIBUTE } from '../src/edge';
import { edgeTracePolicyFrom } from '../src/edge-policy';
import { EdgeSampler, samplersFromEnvironment } from '../src/sampler';

describe('EDGE_TRACE_POLICY', () => {
  it('is unset for every process but the edge, and one of continue, link, ignore for the edge', () => {
    assert.equal(edgeTracePolicyFrom({}), undefined);
    assert.equal(edgeTracePolicyFrom({ EDGE_TRACE_POLICY: '' }), undefined);
    assert.equal(edgeTracePolicyFrom({ EDGE_TRACE_POLICY: 'link' }), 'link');
    assert.equal(edgeTracePolicyFrom({ EDGE_TRACE_POLICY: ' ignore ' }), 'ignore');
  });

  it('refuses any other value, naming the variable and the values it takes', () => {
    assert.throws(
      () => edgeTracePolicyFrom({ EDGE_TRACE_POLICY: 'trust' }),
      /^Error: EDGE_TRACE_POLICY: expected one of continue, link, ignore; got "trust"$/,
    );
  });
});

describe('the samplers of OTEL_TRACES_SAMPLER, and the edge’s', () => {
  it('reads the standard names: parent-based or not, and the root decision', () => {
    const cases: Array<[env: NodeJS.ProcessEnv, root: string, standard: RegExp]> = [
      [{}, 'AlwaysOnSampler', /^ParentBased\{root=AlwaysOnSampler/],
      [{ OTEL_TRACES_SAMPLER: 'always_off' }, 'AlwaysOffSampler', /^AlwaysOffSampler$/],
      [
        { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
        'TraceIdRatioBased{0.25}',
        /^ParentBased\{root=TraceIdRatioBased\{0.25\}/,
      ],
      [
        { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' },
        'TraceIdRatioBased{1}',
        /^TraceIdRatioBased/,
      ],
      [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, 'AlwaysOnSampler', /^ParentBased\{root=AlwaysOnSampler/],
    ];
    for (const [env, root, standard] of cases) {
      const samplers = samplersFromEnvironment(env);
      assert.equal(samplers.root.toString(), root, JSON.stringify(env));
      assert.match(samplers.standard.toString(), standard, JSON.stringify(env));
    }
  });

  it('decides an edge request’s server span as a root, whatever its remote parent says; every other span by its parent', () => {
    const { root, standard } = samplersFromEnvironment({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' });
    const sampler = new EdgeSampler(root, standard);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const callerSampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const decide = (kind: SpanKind, attributes: Record<string, string>) =>
      sampler.shouldSample(callerSampled, traceId, 'GET /api/products', kind, attributes, []).decision;

    assert.equal(decide(SpanKind.SERVER, { [EDGE_POLICY_ATTRIBUTE]: 'continue' }), SamplingDecision.NOT_RECORD);
    assert.equal(
      decide(SpanKind.SERVER, {}),
      SamplingDecision.RECORD_AND_SAMPLED,
      'behind the edge, the parent decides',
    );
    assert.equal(decide(SpanKind.CLIENT, { [EDGE_POLICY_ATTRIBUTE]: 'continue' }), SamplingDecision.RECORD_AND_SAMPLED);
  });
});
