// The import rules of glassbox, checked by `npm run lint` (dependency-cruiser)
// over the TypeScript sources of every package, tests included.
// test/config/import-rules.test.ts proves each rule on test/fixtures/import-rules/.
//
// A rule sees each import as the path it resolves to, relative to the folder
// the check runs from. An import of another workspace package resolves
// through the package's `exports` into its compiled dist/ once it is built
// (`@glassbox/users` -> services/users/dist/src/main.js), and stays as written
// before (`@glassbox/users`), so the rules below name both forms; they give
// the same verdict either way.
import { join } from 'node:path';

/** Packages under services/ that are services: every folder but the kit they share. */
const SERVICE = '(^|/)services/(?!kit/)[^/]+/';
/** A workspace package by name, other than the two every service may use. */
const OTHER_PACKAGE = '^@glassbox/(?!service-kit(/|$)|telemetry(/|$))';

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Imports point one way: main -> app -> domain <- repository. A cycle means two files are one idea, ' +
        'or an interface lives on the wrong side (the domain file owns it; the repository implements it).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-service-imports-another-service',
      severity: 'error',
      comment:
        'Services talk over HTTP, gRPC and RabbitMQ, never through each other’s code: what two services ' +
        'share belongs in services/kit or telemetry/. (Orders’ one exception is the next rule.) ' +
        'A service’s tests may start its neighbours in process; its production code (src/) may not.',
      from: { path: '^services/([^/]+)/src/', pathNot: '^services/orders/' },
      to: { path: [SERVICE, OTHER_PACKAGE], pathNot: ['(^|/)services/$1/', '^@glassbox/$1(/|$)'] },
    },
    {
      name: 'orders-imports-products-only-through-its-client',
      severity: 'error',
      comment:
        'Orders calls products over gRPC with the typed client products publishes (@glassbox/products/client), ' +
        'a contract like an HTTP API; nothing else of products, and nothing of any other service.',
      from: { path: '^services/(orders)/src/' },
      to: {
        path: [SERVICE, OTHER_PACKAGE],
        pathNot: [
          '(^|/)services/$1/',
          '^@glassbox/$1(/|$)',
          '^@glassbox/products/client$',
          '(^|/)services/products/dist/src/client\\.js$',
        ],
      },
    },
    {
      name: 'only-telemetry-imports-the-sdk',
      severity: 'error',
      comment:
        'The SDK, its exporters and the instrumentations are loaded by the preload (@glassbox/telemetry/register) ' +
        'and nowhere else; business code and tests use @opentelemetry/api and @glassbox/telemetry.',
      from: { pathNot: '^telemetry/' },
      to: { path: '(^|/)@opentelemetry/(sdk-|exporter-|instrumentation|auto-instrumentations)' },
    },
    {
      name: 'no-import-from-dist',
      severity: 'error',
      comment:
        'Compiled output is reached only through a package’s exports (`@glassbox/grafana/queries`), never by ' +
        'a path into a dist/ folder: that path breaks silently on a stale or missing build. No package exports ' +
        'a dist/ path, so `@glassbox/x/dist/...` does not resolve and is matched as written.',
      from: {},
      // A package import resolved through `exports` is "undetermined" (neither relative nor from
      // node_modules); a relative path into dist/ is "local"; one that does not resolve is "unknown".
      to: { path: '(^|/)dist/', pathNot: '(^|/)node_modules/', dependencyTypesNot: ['undetermined'] },
    },
  ],
  options: {
    // Other packages' dist/ and node_modules are seen as imports but not read themselves.
    doNotFollow: { path: ['(^|/)node_modules/', '(^|/)dist/'] },
    // The fixtures break the rules on purpose (import-rules.test.ts checks that they are caught).
    exclude: { path: '^test/fixtures/' },
    // Type-only imports count: an interface imported both ways is a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: join(import.meta.dirname, 'tsconfig.base.json') },
    // Node's own resolution for workspace packages: their package.json `exports`, CommonJS conditions.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default'],
    },
  },
};
