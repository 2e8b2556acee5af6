import Router from '@koa/router';
import { type AppState, idParam, pageQuery, parseInput } from '@glassbox/service-kit';
import { productInput, type ProductCatalog } from './products';

/** The HTTP routes: reads for people and the gateway, and adding products. Stock is reserved over gRPC. */
export function productsRoutes(catalog: ProductCatalog): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/products', async function listProducts(ctx) {
    ctx.body = await catalog.list(parseInput(pageQuery, ctx.query, 'query'));
  });

  router.post('/products', async function addProduct(ctx) {
    const product = await catalog.add(parseInput(productInput, ctx.request.body, 'body'));
    ctx.state.log.info({ product_id: product.id }, 'product added');
    ctx.status = 201;
    ctx.set('location', `/products/${product.id}`);
    ctx.body = product;
  });

  router.get('/products/:id', async function getProduct(ctx) {
    const { id } = parseInput(idParam, ctx.params, 'params');
    ctx.body = await catalog.get(id);
  });

  return router;
}
