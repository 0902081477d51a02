// Prints COUNT distinct TCP ports that can be bound on HOST right now, one per line, in slot order.
// Usage: node free-ports.mjs COUNT [PREFERRED_1 ... PREFERRED_COUNT]
// Slot i gets PREFERRED_i (e.g. the port that role had last time) when that port is free, else a random one drawn from
// 20000-32767: below Linux's ephemeral range (32768-60999), so an outgoing connection cannot take it between the pick
// and the server binding it, and two stacks picking at the same moment rarely collide. A preferred value of 0 means
// none. Every port is proven free by binding it; all stay bound until the set is complete, so none repeats.
import net from 'node:net';

const HOST = process.env.HOST ?? '127.0.0.1';
const LOW = 20000;
const HIGH = 32767;
const count = Number(process.argv[2]);
const preferred = process.argv.slice(3).map(Number);
if (!Number.isInteger(count) || count < 1) {
  console.error('usage: free-ports.mjs COUNT [PREFERRED_1 ... PREFERRED_COUNT]');
  process.exit(2);
}

function tryBind(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen({ port, host: HOST, exclusive: true }, () => resolve(server));
  });
}

const servers = [];
const taken = new Set();
async function take(port) {
  if (!Number.isInteger(port) || port < 1 || port > 65535 || taken.has(port)) return false;
  taken.add(port);
  const server = await tryBind(port);
  if (server) servers.push(server);
  return server !== null;
}

const ports = [];
for (let slot = 0; slot < count; slot++) {
  if (await take(preferred[slot])) {
    ports.push(preferred[slot]);
    continue;
  }
  let found = 0;
  for (let attempt = 0; attempt < 2000 && !found; attempt++) {
    const candidate = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (await take(candidate)) found = candidate;
  }
  if (!found) {
    console.error(`no free TCP port found on ${HOST} in ${LOW}-${HIGH}`);
    process.exit(1);
  }
  ports.push(found);
}
for (const server of servers) server.close();
console.log(ports.join('\n'));
