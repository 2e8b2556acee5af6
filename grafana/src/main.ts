/**
 * npm run dashboards: writes every dashboard of src/dashboards.ts to
 * grafana/dashboards/<name>.json, and removes JSON files there that no
 * dashboard writes any more (Grafana would keep loading them otherwise).
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderDashboards } from './dashboards';

const HELP = `usage: npm run dashboards

Generates the Grafana dashboards from grafana/src/*.ts (built with
@grafana/grafana-foundation-sdk) into grafana/dashboards/*.json, the files
Grafana provisions. Commit the JSON: test/config/grafana.test.ts fails when it
differs from what the TypeScript generates.
`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const directory = join(__dirname, '..', '..', 'dashboards'); // from grafana/dist/src
  const files = await renderDashboards(directory);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(directory, name), text);
    const panels = (JSON.parse(text) as { panels: unknown[] }).panels.length;
    process.stdout.write(`wrote ${relative(process.cwd(), join(directory, name))} (${panels} panels)\n`);
  }
  for (const stale of readdirSync(directory).filter((name) => name.endsWith('.json') && !(name in files))) {
    rmSync(join(directory, stale));
    process.stdout.write(`removed ${relative(process.cwd(), join(directory, stale))} (no dashboard writes it)\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`dashboards: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
