import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { imagePinProblem, loadCompose, memoryLimit } from '../src/compose';
import { readPortsEnv } from '../src/ports';
import { HELM, KUBERNETES_VALIDATE, PROMTOOL, ROOT, run, toolOnce, versions } from '../src/tools';

/**
 * charts/glassbox is code: no cluster runs here, so this suite renders the
 * chart with the real Helm (helm lint, helm template), validates every
 * rendered object strictly against the Kubernetes OpenAPI schema of a current
 * release (kubernetes-validate), and checks what a schema can not: probes,
 * resources, users, images and ports against compose and deploy/ports.env,
 * secrets, network policies, and that the config files the chart carries are
 * the repository's own.
 */

const CHART = join(ROOT, 'charts', 'glassbox');
const helm = toolOnce(HELM);
const validator = toolOnce(KUBERNETES_VALIDATE);
const promtool = toolOnce(PROMTOOL);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered Kubernetes objects: read field by field below */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface Container {
  name: string;
  image: string;
  ports?: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  securityContext?: any;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const SERVICES = ['gateway', 'users', 'products', 'orders', 'notifications'] as const;
/** The compose service each chart component runs the image of, and takes its memory budget from. */
const COMPOSE_NAME: Record<string, string> = {
  'otel-collector-agent': 'otel-collector',
};

interface Render {
  file: string;
  objects: K8sObject[];
}

async function render(name: string, ...args: string[]): Promise<Render> {
  const result = await run(await helm(), ['template', 'glassbox', CHART, '--namespace', 'glassbox', ...args]);
  assert.equal(result.code, 0, `helm template ${args.join(' ')} failed:\n${result.output}`);
  const file = join(mkdtempSync(join(tmpdir(), 'glassbox-chart-')), `${name}.yaml`);
  writeFileSync(file, result.stdout);
  const objects = parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
  return { file, objects };
}

const component = (object: K8sObject) => object.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const workloads = (objects: K8sObject[]) => objects.filter((object) => WORKLOADS.has(object.kind));
const podSpec = (workload: K8sObject) => workload.spec.template.spec;
const containersOf = (workload: K8sObject): Container[] => podSpec(workload).containers;
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name);
const mebibytes = (quantity: string) => {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  assert.ok(match, `${quantity} is not in Mi or Gi`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
};

/** Every file under a folder, as paths relative to it. */
function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry);
    return statSync(path).isDirectory() ? filesUnder(path).map((file) => join(entry, file)) : [entry];
  });
}

describe('the Helm chart (charts/glassbox), rendered and validated', function () {
  this.timeout(120_000);
  let byDefault: Render;
  let production: Render;

  before(async () => {
    byDefault = await render('default');
    production = await render('production', '-f', join(CHART, 'values-production.yaml'));
  });

  it('passes helm lint --strict, with the default values and with values-production.yaml', async () => {
    for (const values of [[], ['-f', join(CHART, 'values-production.yaml')]]) {
      const result = await run(await helm(), ['lint', '--strict', CHART, ...values]);
      assert.equal(result.code, 0, `helm lint ${values.join(' ')}:\n${result.output}`);
      assert.match(result.output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders only objects that the Kubernetes schema accepts, strictly (kubernetes-validate)', async () => {
    const kubernetes = (await versions('validators.sh')).kubernetes!;
    for (const [name, rendered] of Object.entries({ default: byDefault, production })) {
      const result = await run(await validator(), ['--strict', '-k', kubernetes, '--quiet', rendered.file]);
      assert.equal(result.code, 0, `kubernetes-validate --strict -k ${kubernetes} (${name} values):\n${result.output}`);
      const kinds = new Map<string, number>();
      for (const object of rendered.objects) kinds.set(object.kind, (kinds.get(object.kind) ?? 0) + 1);
      console.log(
        `      ${name} values: ${rendered.objects.length} objects valid against Kubernetes ${kubernetes} (${[...kinds]
          .sort()
          .map(([kind, count]) => `${count} ${kind}`)
          .join(', ')})`,
      );
    }
    // The validator has teeth: an unknown field fails.
    const bad = join(mkdtempSync(join(tmpdir(), 'glassbox-chart-')), 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: Service\nmetadata: { name: x }\nspec: { portz: [] }\n');
    assert.notEqual((await run(await validator(), ['--strict', '-k', kubernetes, bad])).code, 0);
  });

  it('runs every service as a Deployment with a Service, an autoscaler and a disruption budget', () => {
    for (const { objects } of [byDefault, production]) {
      for (const name of SERVICES) {
        for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']) {
          assert.ok(find(objects, kind, name), `no ${kind} ${name}`);
        }
        const hpa = find(objects, 'HorizontalPodAutoscaler', name)!;
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name });
      }
    }
  });

  it('gives every container requests and limits, liveness and readiness probes, and a non-root read-only sandbox', () => {
    for (const { objects } of [byDefault, production]) {
      for (const workload of workloads(objects)) {
        const pod = podSpec(workload);
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${workload.metadata.name}: pod runAsNonRoot`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
        for (const container of containersOf(workload)) {
          const where = `${workload.kind} ${workload.metadata.name}/${container.name}`;
          for (const resource of ['cpu', 'memory']) {
            assert.ok(container.resources?.requests?.[resource], `${where}: no ${resource} request`);
            assert.ok(container.resources?.limits?.[resource], `${where}: no ${resource} limit`);
          }
          assert.ok(container.livenessProbe, `${where}: no liveness probe`);
          assert.ok(container.readinessProbe, `${where}: no readiness probe`);
          const security = container.securityContext;
          assert.equal(security?.runAsNonRoot, true, `${where}: runAsNonRoot`);
          assert.ok(Number(security?.runAsUser) > 0, `${where}: runAsUser is root`);
          assert.equal(security?.readOnlyRootFilesystem, true, `${where}: read-only root filesystem`);
          assert.equal(security?.allowPrivilegeEscalation, false, `${where}: privilege escalation`);
          assert.deepEqual(security?.capabilities, { drop: ['ALL'] }, `${where}: capabilities`);
        }
      }
    }
  });

  it('probes each glassbox service on its management port: /healthz for liveness, /readyz for readiness', () => {
    for (const name of SERVICES) {
      const [container] = containersOf(find(byDefault.objects, 'Deployment', name)!);
      const probe = (p: unknown) => (p as { httpGet: { path: string; port: string } }).httpGet;
      assert.deepEqual(probe(container!.livenessProbe), { path: '/healthz', port: 'management' }, name);
      assert.deepEqual(probe(container!.readinessProbe), { path: '/readyz', port: 'management' }, name);
    }
  });

  it("sizes every container's memory by its compose mem_limit (the budget at the top of docker-compose.yml)", () => {
    const compose = loadCompose();
    for (const workload of workloads(byDefault.objects)) {
      const name = COMPOSE_NAME[component(workload)] ?? component(workload);
      const service = compose.services[name];
      assert.ok(service, `${name}: no compose service of that name`);
      const [container] = containersOf(workload);
      const limit = mebibytes(container!.resources!.limits!.memory!);
      assert.equal(limit, memoryLimit(service)! / 1024 ** 2, `${name}: memory limit vs compose mem_limit`);
      assert.equal(container!.resources!.requests!.memory, container!.resources!.limits!.memory, `${name}: request`);
    }
  });

  it("runs pinned images: glassbox's own at the chart's appVersion, every other one at compose's tag", () => {
    const compose = loadCompose();
    const appVersion = (parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
    const packageVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    assert.equal(appVersion, packageVersion, "the chart's appVersion is the version in package.json");
    const seen = new Set<string>();
    for (const workload of workloads(byDefault.objects)) {
      for (const container of containersOf(workload)) {
        assert.equal(
          imagePinProblem(container.image),
          undefined,
          `${container.image}: ${imagePinProblem(container.image)}`,
        );
        const name = COMPOSE_NAME[component(workload)] ?? component(workload);
        const service = compose.services[name];
        if (service?.build) {
          assert.equal(container.image, `glassbox:${appVersion}`, `${name} runs the repository's image`);
        } else {
          assert.equal(container.image, service?.image, `${name}: the image compose runs`);
        }
        seen.add(name);
      }
    }
    // Every long-running compose service is in the chart (setup's probe copying has no use on Kubernetes).
    const expected = Object.keys(compose.services).filter((name) => name !== 'setup');
    assert.deepEqual([...seen].sort(), expected.sort());
  });

  it('listens on the ports of deploy/ports.env, and tells each service its own', () => {
    const ports = readPortsEnv();
    /** ports.env name -> [component, container port name] */
    const expected: Record<string, [string, string]> = {
      PRODUCTS_GRPC_PORT: ['products', 'grpc'],
      COLLECTOR_OTLP_GRPC_PORT: ['otel-collector', 'otlp-grpc'],
      COLLECTOR_OTLP_HTTP_PORT: ['otel-collector', 'otlp-http'],
      COLLECTOR_HEALTH_PORT: ['otel-collector', 'health'],
      COLLECTOR_METRICS_PORT: ['otel-collector', 'metrics'],
      COLLECTOR_EXPORTER_PORT: ['otel-collector', 'exported'],
      JAEGER_UI_PORT: ['jaeger', 'query'],
      JAEGER_HEALTH_PORT: ['jaeger', 'health'],
      JAEGER_METRICS_PORT: ['jaeger', 'metrics'],
      PROMETHEUS_PORT: ['prometheus', 'http'],
      LOKI_PORT: ['loki', 'http'],
      GRAFANA_PORT: ['grafana', 'http'],
      RABBITMQ_MANAGEMENT_PORT: ['rabbitmq', 'management-ui'],
      RABBITMQ_PROMETHEUS_PORT: ['rabbitmq', 'metrics'],
    };
    for (const name of SERVICES) {
      expected[`${name.toUpperCase()}_PORT`] = [name, 'http'];
      expected[`${name.toUpperCase()}_MANAGEMENT_PORT`] = [name, 'management'];
    }
    const byComponent = new Map(workloads(byDefault.objects).map((w) => [component(w), containersOf(w)[0]!]));
    for (const [variable, [name, portName]] of Object.entries(expected)) {
      const container = byComponent.get(name);
      assert.ok(container, `no workload for ${name}`);
      const port = container.ports?.find((p) => p.name === portName)?.containerPort;
      assert.equal(port, ports[variable], `${name} port ${portName} vs deploy/ports.env ${variable}`);
    }
    for (const name of SERVICES) {
      const env = Object.fromEntries((byComponent.get(name)!.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(Number(env.PORT), ports[`${name.toUpperCase()}_PORT`], `${name} PORT`);
      assert.equal(
        Number(env.MANAGEMENT_PORT),
        ports[`${name.toUpperCase()}_MANAGEMENT_PORT`],
        `${name} MANAGEMENT_PORT`,
      );
      const service = find(byDefault.objects, 'Service', name)!;
      assert.equal(service.spec.ports[0].port, ports[`${name.toUpperCase()}_PORT`], `Service ${name}`);
    }
    assert.equal(
      Number(Object.fromEntries(byComponent.get('products')!.env!.map((e) => [e.name, e.value])).GRPC_PORT),
      ports.PRODUCTS_GRPC_PORT,
    );
  });

  it('holds no literal secret: credentials come from Secrets, generated ones are random, external ones named', async () => {
    const secretish = /PASS|TOKEN|SECRET|AMQP_URL|KEY/;
    for (const [name, { objects }] of Object.entries({ default: byDefault, production })) {
      for (const workload of workloads(objects)) {
        for (const container of containersOf(workload)) {
          for (const variable of container.env ?? []) {
            const where = `${name}: ${workload.metadata.name}/${container.name} ${variable.name}`;
            if (secretish.test(variable.name)) {
              assert.equal(variable.value, undefined, `${where} is a literal`);
              assert.ok(variable.valueFrom?.secretKeyRef, `${where} is not read from a Secret`);
            }
            assert.doesNotMatch(variable.value ?? '', /:\/\/[^/\s:@]+:[^@\s]+@/, `${where}: credentials in a URL`);
          }
        }
      }
    }
    // Generated values differ from one render to the next: none is written in the chart.
    const again = await render('default-again');
    const secrets = (rendered: Render) =>
      Object.fromEntries(rendered.objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o]));
    const first = secrets(byDefault);
    const second = secrets(again);
    assert.deepEqual(Object.keys(first).sort(), ['grafana-admin', 'postgres', 'rabbitmq']);
    for (const [secretName, secret] of Object.entries(first)) {
      for (const [key, value] of Object.entries(secret.stringData ?? {})) {
        if (key === 'username') continue;
        assert.notEqual(value, second[secretName]!.stringData![key], `${secretName}.${key} is the same in two renders`);
      }
    }
    // With external systems (values-production.yaml), the chart makes no Secret: it names existing ones.
    assert.deepEqual(
      production.objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
      [],
    );
    const users = containersOf(find(production.objects, 'Deployment', 'users')!)[0]!;
    const password = users.env!.find((e) => e.name === 'DB_PASSWORD')!;
    assert.deepEqual(password.valueFrom.secretKeyRef, { name: 'glassbox-db', key: 'password' });
  });

  it('lets only the gateway take outside traffic: every other ingress rule names its callers', () => {
    for (const { objects } of [byDefault, production]) {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
      const deny = policies.find((p) => p.metadata.name === 'default-deny-ingress');
      assert.ok(deny, 'no default-deny policy');
      assert.deepEqual(deny.spec.policyTypes, ['Ingress']);
      assert.equal(deny.spec.ingress, undefined, 'the default policy allows nothing');
      const open = policies.flatMap((p) =>
        (p.spec.ingress ?? [])
          .filter((rule: { from?: unknown[] }) => !rule.from || rule.from.length === 0)
          .map((rule: { ports: Array<{ port: number }> }) => [
            p.spec.podSelector.matchLabels['app.kubernetes.io/name'],
            rule.ports.map((port) => port.port),
          ]),
      );
      assert.deepEqual(open, [['gateway', [8080]]], 'only the gateway API port is open to anyone');
      // Prometheus may scrape every management port.
      for (const name of SERVICES) {
        assert.ok(
          policies.some((p) => p.metadata.name.startsWith(`allow-${name}-90`)),
          `${name}: management port closed to Prometheus`,
        );
      }
    }
  });

  it('runs the collector in two tiers: an agent per node routing by trace id, a gateway tier running otel-collector.yaml', () => {
    const agent = find(byDefault.objects, 'DaemonSet', 'otel-collector-agent');
    assert.ok(agent, 'no agent DaemonSet');
    const agentConfig = parse(find(byDefault.objects, 'ConfigMap', 'otel-collector-agent')!.data!['config.yaml']!);
    const traces = agentConfig.service.pipelines.traces;
    assert.ok(traces.processors.includes('k8sattributes'), 'the agent adds Kubernetes attributes');
    assert.deepEqual(traces.exporters, ['load_balancing/traces']);
    assert.equal(agentConfig.exporters['load_balancing/traces'].routing_key, 'traceID');
    // Every component a pipeline names is defined (what `otelcol validate` would say; the
    // native build lacks load_balancing and k8sattributes, so it can not run on this file).
    type Pipeline = { receivers: string[]; processors: string[]; exporters: string[] };
    const agentPipelines = agentConfig.service.pipelines as Record<string, Pipeline>;
    for (const [pipeline, { receivers, processors, exporters }] of Object.entries(agentPipelines)) {
      for (const [section, names] of Object.entries({ receivers, processors, exporters })) {
        for (const component of names)
          assert.ok(agentConfig[section][component], `${pipeline}: ${component} undefined`);
      }
    }
    const headless = find(byDefault.objects, 'Service', 'otel-collector-headless')!;
    assert.equal(headless.spec.clusterIP, 'None', 'the ring is built from a headless Service');
    const local = find(byDefault.objects, 'Service', 'otel-collector-agent')!;
    assert.equal(local.spec.internalTrafficPolicy, 'Local', "pods send to their own node's agent");

    const gateway = find(byDefault.objects, 'Deployment', 'otel-collector')!;
    const container = containersOf(gateway)[0]!;
    assert.match(container.image, /^otel\/opentelemetry-collector-contrib:/, 'the contrib image');
    const configMap = find(byDefault.objects, 'ConfigMap', 'otel-collector')!;
    assert.equal(configMap.data!['config.yaml'], readFileSync(join(ROOT, 'otel-collector.yaml'), 'utf8'));
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
    assert.equal(env.TRACE_SAMPLING_PERCENT, '10');
    for (const { objects } of [byDefault, production]) {
      const instrumented = SERVICES.map((name) => containersOf(find(objects, 'Deployment', name)!)[0]!);
      for (const service of instrumented) {
        const endpoint = service.env!.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
        assert.equal(endpoint, 'http://otel-collector-agent:4318', `${service.name} sends to the agent`);
      }
    }
  });

  it('switches each backend off for an existing one, pointing the collector and Grafana there', async () => {
    const { objects } = await render(
      'external',
      '--set',
      'jaeger.enabled=false,jaeger.external.otlpEndpoint=jaeger.example:4317,jaeger.external.queryUrl=http://jaeger.example:16686',
      '--set',
      'loki.enabled=false,loki.external.otlpEndpoint=http://loki.example:3100/otlp,loki.external.url=http://loki.example:3100',
      '--set',
      'prometheus.enabled=false,prometheus.external.url=http://prometheus.example:9090',
    );
    for (const name of ['jaeger', 'loki', 'prometheus']) {
      assert.deepEqual(
        objects.filter((o) => component(o) === name).map((o) => `${o.kind}/${o.metadata.name}`),
        [],
        `${name} objects rendered while switched off`,
      );
    }
    const env = Object.fromEntries(
      containersOf(find(objects, 'Deployment', 'otel-collector')!)[0]!.env!.map((e) => [e.name, e.value]),
    );
    assert.equal(env.JAEGER_OTLP_ENDPOINT, 'jaeger.example:4317');
    assert.equal(env.LOKI_OTLP_ENDPOINT, 'http://loki.example:3100/otlp');
    const datasources = parse(find(objects, 'ConfigMap', 'grafana-provisioning')!.data!['datasources.yaml']!);
    assert.deepEqual(
      Object.fromEntries(datasources.datasources.map((d: { uid: string; url: string }) => [d.uid, d.url])),
      {
        prometheus: 'http://prometheus.example:9090',
        jaeger: 'http://jaeger.example:16686',
        loki: 'http://loki.example:3100',
      },
    );
    const missing = await run(await helm(), ['template', 'glassbox', CHART, '--set', 'jaeger.enabled=false']);
    assert.notEqual(missing.code, 0, 'a switched-off Jaeger without an external endpoint renders');
    assert.match(missing.output, /jaeger\.external\.(otlpEndpoint|queryUrl) is required/);
  });

  it("carries the repository's own config files: every copy under files/ is identical to its source", () => {
    const files = join(CHART, 'files');
    // files/ mirrors the repository's paths; files/kubernetes/ holds what only the chart has.
    const copies = filesUnder(files).filter((file) => !file.startsWith('kubernetes/'));
    const drifted = copies.filter(
      (file) => readFileSync(join(files, file), 'utf8') !== readFileSync(join(ROOT, file), 'utf8'),
    );
    assert.deepEqual(
      drifted,
      [],
      `stale copies in charts/glassbox/files; refresh them with:\n${drifted
        .map((file) => `  cp ${file} ${relative(ROOT, join(files, file))}`)
        .join('\n')}`,
    );
    // And nothing the chart needs is left out: every rule file and dashboard is copied.
    const sources = [
      'otel-collector.yaml',
      'otel-collector.servicegraph.yaml',
      'deploy/jaeger.yaml',
      'deploy/loki.yaml',
      'prometheus/prometheus.yml',
      ...readdirSync(join(ROOT, 'prometheus', 'rules')).map((file) => `prometheus/rules/${file}`),
      'grafana/provisioning/datasources/datasources.yaml',
      'grafana/provisioning/dashboards/dashboards.yaml',
      ...readdirSync(join(ROOT, 'grafana', 'dashboards')).map((file) => `grafana/dashboards/${file}`),
    ];
    const missing = sources.filter((file) => !copies.includes(file));
    assert.deepEqual(
      missing,
      [],
      `missing from charts/glassbox/files:\n${missing.map((f) => `  cp ${f} charts/glassbox/files/${f}`).join('\n')}`,
    );
  });

  it('renders a Prometheus configuration that promtool accepts, discovering pods and loading every rule file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'glassbox-chart-prometheus-'));
    const config = find(byDefault.objects, 'ConfigMap', 'prometheus')!.data!['prometheus.yml']!;
    writeFileSync(join(folder, 'prometheus.yml'), config);
    const rules = find(byDefault.objects, 'ConfigMap', 'prometheus-rules')!.data!;
    mkdirSync(join(folder, 'rules'));
    for (const [file, text] of Object.entries(rules)) writeFileSync(join(folder, 'rules', file), text);
    const result = await run(await promtool(), ['check', 'config', join(folder, 'prometheus.yml')]);
    assert.equal(result.code, 0, `promtool check config:\n${result.output}`);
    assert.match(result.output, new RegExp(`SUCCESS: ${Object.keys(rules).length} rule files found`));
    const jobs = (parse(config) as { scrape_configs: Array<{ job_name: string; kubernetes_sd_configs?: unknown }> })
      .scrape_configs;
    assert.ok(jobs.find((job) => job.job_name === 'kubernetes-pods')?.kubernetes_sd_configs, 'pods are discovered');
  });
});
