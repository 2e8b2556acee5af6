import Router from '@koa/router';
import { idParam, parseInput, type AppState } from '@glassbox/service-kit';
import { idempotencyHeaders, orderInput, ordersQuery, type OrderDesk } from './orders';

export function ordersRoutes(desk: OrderDesk, on: { placed: () => void; replayed: () => void }): Router<AppState> {
  const router = new Router<AppState>();

  /**
   * A retry that carries the Idempotency-Key of an earlier request gets the
   * same answer, status and body, as that request, marked by the
   * Idempotent-Replayed header; no second order is placed.
   */
  router.post('/orders', async function placeOrder(ctx) {
    const { 'idempotency-key': key } = parseInput(
      idempotencyHeaders,
      { 'idempotency-key': ctx.req.headersDistinct['idempotency-key'] },
      'headers',
    );
    const { order, replayed } = await desk.place(parseInput(orderInput, ctx.request.body, 'body'), key);
    const facts = { order_id: order.id, user_id: order.userId, items: order.items.length };
    if (replayed) {
      on.replayed();
      ctx.set('idempotent-replayed', 'true');
      ctx.state.log.info(facts, 'order answered from its Idempotency-Key');
    } else {
      on.placed();
      ctx.state.log.info(facts, 'order placed');
    }
    ctx.status = 201;
    ctx.set('location', `/orders/${order.id}`);
    ctx.body = order;
  });

  router.get('/orders/:id', async function getOrder(ctx) {
    const { id } = parseInput(idParam, ctx.params, 'params');
    ctx.body = await desk.get(id);
  });

  router.get('/orders', async function listOrders(ctx) {
    const { userId, limit, offset } = parseInput(ordersQuery, ctx.query, 'query');
    ctx.body = await desk.list(userId, { limit, offset });
  });

  return router;
}
