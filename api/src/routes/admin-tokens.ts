/** Admin management of API tokens: issue (the token is in the response once), list, revoke. */
import { issueApiToken, listApiTokens, revokeApiToken, type Pool } from '@stack/core';
import type { Authenticator } from '../http/auth.js';
import { AppError } from '../http/problem.js';
import { defineRoute, type ApiModule } from '../http/route.js';
import {
  issuedTokenSchema,
  tokenCreateSchema,
  tokenIdParams,
  tokenListSchema,
  userIdParams,
} from '../schemas/tokens.js';
import { PRIVATE_CACHE_CONTROL } from '../http/cache-control.js';

const DAY_MS = 86_400_000;

export function adminTokensModule(deps: { pool: Pool; tokenPepper: string; authenticator: Authenticator }): ApiModule {
  const { pool } = deps;
  const routes = [
    defineRoute({
      method: 'post',
      path: '/admin/users/:id/tokens',
      operationId: 'issueToken',
      summary: 'Issue an API token for a user',
      description: 'The token is returned in this response only; the server keeps just its HMAC.',
      tag: 'Admin: tokens',
      access: ['admin'],
      params: userIdParams,
      body: tokenCreateSchema,
      responses: {
        201: { description: 'Issued.', schema: issuedTokenSchema },
        404: { description: 'No user with this id.' },
      },
      handler: async ({ params, body }, _req, res) => {
        const issued = await issueApiToken(pool, deps.tokenPepper, {
          userId: params.id,
          name: body.name ?? 'default',
          expiresAt: body.expiresInDays === undefined ? undefined : new Date(Date.now() + body.expiresInDays * DAY_MS),
        });
        if (!issued) throw new AppError('notFound', `No user with id ${params.id}.`);
        const { revokedAt: _revokedAt, ...record } = issued.record;
        res
          .status(201)
          .set('Cache-Control', PRIVATE_CACHE_CONTROL)
          .json({ ...record, token: issued.token });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/users/:id/tokens',
      operationId: 'listTokens',
      summary: "List a user's API tokens",
      description: 'Newest first, revoked ones included; never the tokens themselves.',
      tag: 'Admin: tokens',
      access: ['admin'],
      params: userIdParams,
      responses: {
        200: { description: 'The tokens.', schema: tokenListSchema },
        404: { description: 'No user with this id.' },
      },
      handler: async ({ params }, _req, res) => {
        const tokens = await listApiTokens(pool, params.id);
        if (!tokens) throw new AppError('notFound', `No user with id ${params.id}.`);
        res.set('Cache-Control', PRIVATE_CACHE_CONTROL).json({ data: tokens });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/tokens/:id',
      operationId: 'revokeToken',
      summary: 'Revoke an API token',
      description:
        'Immediately refused by the replica that handles this request; by every replica within AUTH_TOKEN_CACHE_MS (default 5 s).',
      tag: 'Admin: tokens',
      access: ['admin'],
      params: tokenIdParams,
      responses: {
        204: { description: 'Revoked (or already revoked).' },
        404: { description: 'No token with this id.' },
      },
      handler: async ({ params }, _req, res) => {
        if (!(await revokeApiToken(pool, params.id))) throw new AppError('notFound', `No token with id ${params.id}.`);
        deps.authenticator.forgetToken(params.id);
        res.status(204).set('Cache-Control', PRIVATE_CACHE_CONTROL).end();
      },
    }),
  ];
  return { prefix: '/api/v1', routes };
}
