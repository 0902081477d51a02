import { z } from 'zod';
import { idString, named, nonBlankText, timestamp } from '../http/schemas.js';

const tokenRecordFields = {
  id: z.number().int(),
  userId: z.number().int(),
  name: z.string(),
  createdAt: timestamp,
  expiresAt: timestamp.nullable(),
};

export const issuedTokenSchema = named(
  'IssuedToken',
  z.strictObject({
    ...tokenRecordFields,
    token: z.string().describe('The bearer token. Shown only in this response.'),
  }),
);
export const tokenRecordSchema = named(
  'ApiToken',
  z.strictObject({ ...tokenRecordFields, revokedAt: timestamp.nullable() }),
);
export const tokenListSchema = named('ApiTokenList', z.strictObject({ data: z.array(tokenRecordSchema) }));

export const tokenCreateSchema = named(
  'ApiTokenCreate',
  z.strictObject({
    name: nonBlankText(100).optional().describe('What the token is for (default "default").'),
    expiresInDays: z.number().int().min(1).max(3_650).optional().describe('Lifetime; no expiry when omitted.'),
  }),
);

export const userIdParams = z.strictObject({ id: idString() });
export const tokenIdParams = z.strictObject({ id: idString() });
