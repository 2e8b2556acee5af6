/**
 * Every glassbox dashboard, by the file it is written to in
 * grafana/dashboards/, and how each becomes the JSON that is committed there.
 *
 * The JSON is what Grafana loads (the file provider of
 * grafana/provisioning/dashboards/dashboards.yaml); this TypeScript is where
 * it is edited. `npm run dashboards` writes one from the other, and
 * test/config/grafana.test.ts fails while the two differ.
 */
import * as prettier from 'prettier';
import { nodejsRuntime } from './nodejs-runtime';
import { ordersFlow } from './orders-flow';
import { serviceGraph } from './service-graph';
import { serviceOverview } from './service-overview';
import { telemetryPipeline } from './telemetry-pipeline';

/** The dashboards, by file name (without .json), in the order a learner meets them. */
export function buildDashboards(): Record<string, unknown> {
  return {
    'service-overview': serviceOverview(),
    'service-graph': serviceGraph(),
    'nodejs-runtime': nodejsRuntime(),
    'telemetry-pipeline': telemetryPipeline(),
    'orders-flow': ordersFlow(),
  };
}

/**
 * The same value with the keys of every object sorted, and what JSON can not
 * hold (undefined, the SDK's marker functions) left out: the committed file
 * then depends on what a dashboard says, not on the order a builder happened
 * to set its fields in.
 */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined || typeof field === 'function') continue;
    sorted[key] = canonical(field);
  }
  return sorted;
}

/**
 * The text of each dashboard file: canonical JSON, 2-space indent, formatted
 * by Prettier with the repository's settings (npm run lint checks every JSON
 * file with Prettier, so the generated ones must already be in its style).
 */
export async function renderDashboards(directory: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [name, dashboard] of Object.entries(buildDashboards())) {
    const file = `${directory}/${name}.json`;
    const options = (await prettier.resolveConfig(file)) ?? {};
    files[`${name}.json`] = await prettier.format(JSON.stringify(canonical(dashboard), null, 2), {
      ...options,
      filepath: file,
      parser: 'json',
    });
  }
  return files;
}
