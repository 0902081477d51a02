/**
 * Where an uploaded import file waits for the worker: rows of `import_chunks` (bytea, ~1 MiB each)
 * in Postgres, which the api and the worker both reach wherever they run (separate containers,
 * separate hosts under `docker stack deploy`), unlike a local folder. The api writes the chunks as
 * the request body streams in and the worker reads them back one at a time, so neither side ever
 * holds more than a chunk of the file. The chunks are deleted when the import finishes.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { QueryConfig } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withTransaction, type Pool, type Queryable } from '../db.js';
import { recordEvent } from '../outbox/record.js';
import { youngGarbageCollector } from './buffer-garbage.js';
import type { ImportFormat } from './parse.js';

export const IMPORT_CHUNK_BYTES = 1024 * 1024;

export class ImportTooLargeError extends Error {
  override name = 'ImportTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`);
  }
}

export class ImportEmptyError extends Error {
  override name = 'ImportEmptyError';
  constructor() {
    super('the file is empty');
  }
}

export type ImportStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface Import {
  id: string;
  requestedBy: number;
  format: ImportFormat;
  fileBytes: number;
  status: ImportStatus;
  progress: number;
  rowsTotal: number;
  rowsApplied: number;
  rowsFailed: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

export const IMPORT_COLUMNS_SQL = `id, requested_by AS "requestedBy", format, file_bytes AS "fileBytes", status, progress,
  rows_total AS "rowsTotal", rows_applied AS "rowsApplied", rows_failed AS "rowsFailed", error,
  created_at AS "createdAt", started_at AS "startedAt", completed_at AS "completedAt"`;

/**
 * Stores an upload and its `import.requested` outbox row in one transaction: the import exists, with
 * its whole file, exactly when the caller gets its id. `body` is consumed as it arrives
 * (backpressure: the next piece is read only when Postgres has taken the previous ones). Over
 * `maxBytes` it stops reading and throws ImportTooLargeError; nothing is kept.
 *
 * The bytes go through `COPY ... FROM STDIN (FORMAT binary)`: the request's own buffers are written
 * to the connection as they arrive, with a few bytes of framing per ~1 MiB (no concatenation into
 * chunk-sized copies as a bytea parameter would need). See buffer-garbage.ts for why the loop also
 * triggers young-generation collections.
 */
export async function storeImportUpload(
  db: Queryable,
  upload: { userId: number; format: ImportFormat; body: AsyncIterable<Buffer | string>; maxBytes: number },
): Promise<Import> {
  return withTransaction(db, async (client) => {
    // A slow client may take a while between two chunks; the pool's short idle-in-transaction
    // timeout is meant for forgotten transactions, not for an upload in progress.
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = '60s'`);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO imports (requested_by, format, file_ref) VALUES ($1, $2, 'pending') RETURNING id`,
      [upload.userId, upload.format],
    );
    const id = (rows[0] as { id: string }).id;

    const size = { bytes: 0 };
    const copy = client.query(copyFrom(`COPY import_chunks (import_id, seq, data) FROM STDIN (FORMAT binary)`));
    // On a failure (too large, client gone) pipeline destroys the COPY stream, which sends CopyFail:
    // the COPY is aborted and the transaction rolls back.
    await pipeline(Readable.from(binaryCopyRows(id, upload.body, upload.maxBytes, size)), copy);
    if (size.bytes === 0) throw new ImportEmptyError();

    const { rows: stored } = await client.query<Import>(
      `UPDATE imports SET file_ref = $2, file_bytes = $3 WHERE id = $1 RETURNING ${IMPORT_COLUMNS_SQL}`,
      [id, `pg:import_chunks/${id}`, size.bytes],
    );
    await recordEvent(client, 'import.requested', { importId: id });
    return stored[0] as Import;
  });
}

/**
 * The upload as Postgres binary COPY data: a header, one (import_id, seq, data) row per ~1 MiB of
 * body, a trailer. https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4
 * A row is sent once its bytes are known, as its framing followed by the body's own buffers.
 */
async function* binaryCopyRows(
  importId: string,
  body: AsyncIterable<Buffer | string>,
  maxBytes: number,
  size: { bytes: number },
): AsyncGenerator<Buffer> {
  yield COPY_HEADER;
  const uuid = Buffer.from(importId.replaceAll('-', ''), 'hex');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let seq = 0;
  function* row(): Generator<Buffer> {
    const framing = Buffer.alloc(2 + 4 + 16 + 4 + 4 + 4);
    let offset = framing.writeInt16BE(3, 0);
    offset = framing.writeInt32BE(16, offset);
    offset += uuid.copy(framing, offset);
    offset = framing.writeInt32BE(4, offset);
    offset = framing.writeInt32BE(seq, offset);
    framing.writeInt32BE(pendingBytes, offset);
    yield framing;
    yield* pending;
    seq += 1;
    pending = [];
    pendingBytes = 0;
  }
  const collect = youngGarbageCollector();
  for await (const piece of body) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    size.bytes += chunk.length;
    collect(chunk.length);
    if (size.bytes > maxBytes) throw new ImportTooLargeError(maxBytes);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= IMPORT_CHUNK_BYTES) yield* row();
  }
  if (pendingBytes > 0) yield* row();
  yield COPY_TRAILER;
}

const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/** The stored file of an import, one chunk at a time, in order. */
export async function* readImportFile(pool: Pool, importId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq += 1) {
    // Binary result format (pg's `binary`, missing from its typings): the bytea arrives as its bytes,
    // not as a hex string twice the size that is then decoded. pg-types has no binary bytea parser
    // (it would turn the bytes into a string), so this query's only column is taken as it comes.
    const query = {
      text: `SELECT data FROM import_chunks WHERE import_id = $1 AND seq = $2`,
      values: [importId, seq],
      binary: true,
      types: { getTypeParser: () => (value: Buffer) => value },
    } as unknown as QueryConfig;
    const { rows } = await pool.query<{ data: Buffer }>(query);
    if (!rows[0]) return;
    yield rows[0].data;
  }
}

export async function getImport(pool: Pool, id: string): Promise<Import | undefined> {
  const { rows } = await pool.query<Import>(`SELECT ${IMPORT_COLUMNS_SQL} FROM imports WHERE id = $1`, [id]);
  return rows[0];
}

export interface ImportRowError {
  line: number;
  reason: string;
}

/** Row errors of an import by line, keyset-paginated (`afterLine`). */
export async function listImportErrors(
  pool: Pool,
  id: string,
  page: { afterLine: number; limit: number },
): Promise<ImportRowError[]> {
  const { rows } = await pool.query<ImportRowError>(
    `SELECT line, reason FROM import_errors WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3`,
    [id, page.afterLine, page.limit],
  );
  return rows;
}
