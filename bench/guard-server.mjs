/**
 * One process of bench/guard.bench.ts (its own event loop), on 127.0.0.1:
 *   node bench/guard-server.mjs plain             an http server answering "ok"
 *   node bench/guard-server.mjs guarded           the same, with guardServer (instance web-1)
 *   node bench/guard-server.mjs relay <port>      a plain Node TCP relay to 127.0.0.1:<port>
 *                                                 (what `sgfilter proxy` does, without the guards)
 * prints {"port":N} on stdout once listening. Uses the built package (dist/).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { createEngine } from '../dist/src/index.js';
import { guardServer } from '../dist/src/node/index.js';
import { GUARD_POLICY } from './guard-policy.mjs';

const [variant, upstreamPort] = process.argv.slice(2);
const host = '127.0.0.1';
let server;
if (variant === 'plain' || variant === 'guarded') {
  server = http.createServer((req, res) => res.end('ok'));
  if (variant === 'guarded') guardServer(server, await createEngine(GUARD_POLICY), { instance: 'web-1' });
} else if (variant === 'relay') {
  const port = Number(upstreamPort);
  // The same socket handling as src/node/proxy.ts, less the two guards.
  server = net.createServer((client) => {
    const up = net.connect({ host, port });
    const done = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', done).on('close', () => up.destroy());
    up.on('error', done).on('close', () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  });
} else {
  throw new Error(`unknown variant ${variant}`);
}
server.listen(0, host);
await new Promise((r) => server.once('listening', r));
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
process.on('SIGTERM', () => process.exit(0));
