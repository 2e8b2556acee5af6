import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as published from '@glassbox/products/client';
import * as client from '../src/client';
import { PROTO_PATH } from '../src/proto';

/** Other services use this package by name, from its built output: check the way they will. */
describe('the products package, as other services see it', () => {
  const root = join(__dirname, '..', '..');

  it('exports the typed client as @glassbox/products/client', () => {
    assert.equal(require.resolve('@glassbox/products/client'), join(root, 'dist', 'src', 'client.js'));
    assert.equal(published.createProductsClient, client.createProductsClient, 'one module, not a copy');
    assert.equal(published.GrpcStatus.FAILED_PRECONDITION, 9);
  });

  it('finds its .proto from the compiled code', () => {
    assert.equal(PROTO_PATH, join(root, 'proto', 'products.proto'));
    assert.ok(existsSync(PROTO_PATH));
    assert.equal(require.resolve('@glassbox/products/proto/products.proto'), PROTO_PATH);
  });
});
