/**
 * Reference of `make bench` (cached_read_vs_bare_node): one bare Node 24 process that answers every request with
 * the same bytes, held in memory, and the same content headers the stack sends for them. No framework, no cache
 * lookup, no proxy: what Node alone can do with one core.
 *
 *   BODY_FILE=/path HEADERS_JSON='{"content-type":"..."}' PORT=... node bench/references/bare-node.ts
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.env.BODY_FILE ?? '');
const headers = JSON.parse(process.env.HEADERS_JSON ?? '{}') as Record<string, string>;
const port = Number(process.env.PORT ?? 3998);

const server = createServer((_req, res) => {
  res.writeHead(200, { ...headers, 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`bare node reference on 127.0.0.1:${port} (${body.length} bytes)`));
process.on('SIGTERM', () => server.close());
