/** Admin management of API tokens: issue (the token is in the response once), list, revoke. */
import { issueApiToken, listApiTokens, revokeApiToken, type Pool } from '@stack/core';
import { auditedFor } from '../audit/actor.js';
import type { Authenticator } from '../http/auth.js';
import { AppError, foundOr404 } from '../http/problem.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { issuedTokenSchema, tokenCreateSchema, tokenIdParams, tokenListSchema, userIdParams } from './schemas.js';

const route = routeGroup({ tag: 'Admin: tokens', access: ['admin'] });

const DAY_MS = 86_400_000;

export function adminTokensModule(deps: { pool: Pool; tokenPepper: string; authenticator: Authenticator }): ApiModule {
  const { pool } = deps;
  const routes = [
    route({
      method: 'post',
      path: '/admin/users/:id/tokens',
      operationId: 'issueToken',
      summary: 'Issue an API token for a user',
      description: 'The token is returned in this response only; the server keeps just its HMAC.',
      params: userIdParams,
      body: tokenCreateSchema,
      responses: {
        201: { description: 'Issued.', schema: issuedTokenSchema },
        404: { description: 'No user with this id.' },
      },
      handler: async ({ params, body }, req, res) => {
        const issued = await auditedFor(pool, req)(
          (tx) =>
            issueApiToken(tx, deps.tokenPepper, {
              userId: params.id,
              name: body.name ?? 'default',
              expiresAt:
                body.expiresInDays === undefined ? undefined : new Date(Date.now() + body.expiresInDays * DAY_MS),
            }),
          (result) =>
            result && {
              action: 'token.issue',
              targetType: 'api_token',
              targetId: result.record.id,
              details: { userId: params.id, name: result.record.name },
            },
        );
        const { token, record } = foundOr404(issued, `No user with id ${params.id}.`);
        const { revokedAt: _revokedAt, ...shown } = record;
        res.status(201).json({ ...shown, token });
      },
    }),
    route({
      method: 'get',
      path: '/admin/users/:id/tokens',
      operationId: 'listTokens',
      summary: "List a user's API tokens",
      description: 'Newest first, revoked ones included; never the tokens themselves.',
      params: userIdParams,
      responses: {
        200: { description: 'The tokens.', schema: tokenListSchema },
        404: { description: 'No user with this id.' },
      },
      handler: async ({ params }, _req, res) => {
        const tokens = foundOr404(await listApiTokens(pool, params.id), `No user with id ${params.id}.`);
        res.json({ data: tokens });
      },
    }),
    route({
      method: 'delete',
      path: '/admin/tokens/:id',
      operationId: 'revokeToken',
      summary: 'Revoke an API token',
      description:
        'Immediately refused by the replica that handles this request; by every replica within AUTH_TOKEN_CACHE_MS (default 5 s).',
      params: tokenIdParams,
      responses: {
        204: { description: 'Revoked (or already revoked).' },
        404: { description: 'No token with this id.' },
      },
      handler: async ({ params }, req, res) => {
        const revoked = await auditedFor(pool, req)(
          (tx) => revokeApiToken(tx, params.id),
          (found) => (found ? { action: 'token.revoke', targetType: 'api_token', targetId: params.id } : undefined),
        );
        if (!revoked) throw new AppError('notFound', `No token with id ${params.id}.`);
        deps.authenticator.forgetToken(params.id);
        res.status(204).end();
      },
    }),
  ];
  return { prefix: '/api/v1', routes };
}
