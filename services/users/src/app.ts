import Router from '@koa/router';
import { idParam, pageQuery, parseInput, type AppState } from '@glassbox/service-kit';
import { userInput, type UserDirectory } from './users';

export function usersRoutes(users: UserDirectory): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/users', async function listUsers(ctx) {
    ctx.body = await users.list(parseInput(pageQuery, ctx.query, 'query'));
  });

  router.post('/users', async function registerUser(ctx) {
    const user = await users.register(parseInput(userInput, ctx.request.body, 'body'));
    ctx.state.log.info({ user_id: user.id }, 'user registered');
    ctx.status = 201;
    ctx.set('location', `/users/${user.id}`);
    ctx.body = user;
  });

  router.get('/users/:id', async function getUser(ctx) {
    const { id } = parseInput(idParam, ctx.params, 'params');
    ctx.body = await users.get(id);
  });

  router.put('/users/:id', async function replaceUser(ctx) {
    const { id } = parseInput(idParam, ctx.params, 'params');
    ctx.body = await users.replace(id, parseInput(userInput, ctx.request.body, 'body'));
    ctx.state.log.info({ user_id: id }, 'user updated');
  });

  router.delete('/users/:id', async function removeUser(ctx) {
    const { id } = parseInput(idParam, ctx.params, 'params');
    await users.remove(id);
    ctx.state.log.info({ user_id: id }, 'user removed');
    ctx.status = 204;
  });

  return router;
}
