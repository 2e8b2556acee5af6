import Router from '@koa/router';
import { idParam, parseInput, type AppState } from '@glassbox/service-kit';
import { orderInput, ordersQuery, type OrderDesk } from './orders';

export function ordersRoutes(desk: OrderDesk, onPlaced: () => void): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/orders', async function placeOrder(ctx) {
    const order = await desk.place(parseInput(orderInput, ctx.request.body, 'body'));
    onPlaced();
    ctx.state.log.info({ order_id: order.id, user_id: order.userId, items: order.items.length }, 'order placed');
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
