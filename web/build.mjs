// Builds the storefront page into dist/site: the HTML and CSS as they are,
// and one bundled, minified script (the page's code and its OpenTelemetry
// web SDK). No framework, no CDN, no external font: what the gateway serves
// is everything the page loads.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist', 'site');

if (process.argv.includes('--help')) {
  console.log('usage: node web/build.mjs   builds the storefront page into web/dist/site');
  process.exit(0);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(root, 'static'), out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  legalComments: 'linked',
  logLevel: 'warning',
});
console.log(`web: built ${out}`);
