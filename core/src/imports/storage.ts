/**
 * Where an uploaded import file waits for the worker: rows of `import_chunks` (bytea, ~1 MiB each)
 * in Postgres, which the api and the worker both reach wherever they run (separate containers,
 * separate hosts under `docker stack deploy`), unlike a local folder. The api writes the chunks as
 * the request body streams in and the worker reads them back one at a time, so neither side ever
 * holds more than a chunk of the file. The chunks are deleted when the import finishes.
 */
import { withTransaction, type Pool } from '../db.js';
import { recordEvent } from '../outbox/record.js';
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
 * its whole file, exactly when the caller gets its id. `body` is consumed as it arrives (backpressure:
 * the next chunk is read only after the previous one is written). Over `maxBytes` it stops reading
 * and throws ImportTooLargeError; nothing is kept.
 */
export async function storeImportUpload(
  pool: Pool,
  upload: { userId: number; format: ImportFormat; body: AsyncIterable<Buffer | string>; maxBytes: number },
): Promise<Import> {
  return withTransaction(pool, async (client) => {
    // A slow client may take a while between two chunks; the pool's short idle-in-transaction
    // timeout is meant for forgotten transactions, not for an upload in progress.
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = '60s'`);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO imports (requested_by, format, file_ref) VALUES ($1, $2, 'pending') RETURNING id`,
      [upload.userId, upload.format],
    );
    const id = (rows[0] as { id: string }).id;

    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let totalBytes = 0;
    let seq = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await client.query(`INSERT INTO import_chunks (import_id, seq, data) VALUES ($1, $2, $3)`, [id, seq, data]);
      seq += 1;
    };
    for await (const piece of upload.body) {
      const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
      totalBytes += chunk.length;
      if (totalBytes > upload.maxBytes) throw new ImportTooLargeError(upload.maxBytes);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= IMPORT_CHUNK_BYTES) await flush();
    }
    await flush();
    if (totalBytes === 0) throw new ImportEmptyError();

    const { rows: stored } = await client.query<Import>(
      `UPDATE imports SET file_ref = $2, file_bytes = $3 WHERE id = $1 RETURNING ${IMPORT_COLUMNS_SQL}`,
      [id, `pg:import_chunks/${id}`, totalBytes],
    );
    await recordEvent(client, 'import.requested', { importId: id });
    return stored[0] as Import;
  });
}

/** The stored file of an import, one chunk at a time, in order. */
export async function* readImportFile(pool: Pool, importId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq += 1) {
    const { rows } = await pool.query<{ data: Buffer }>(
      `SELECT data FROM import_chunks WHERE import_id = $1 AND seq = $2`,
      [importId, seq],
    );
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
