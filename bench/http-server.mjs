/**
 * One server for bench/http.bench.ts, in its own process (its own core):
 *   node bench/http-server.mjs <express5|express4|fastify|hono> <none|direct|proxied>
 * prints {"port":N} on stdout once listening on 127.0.0.1, then serves "ok" on GET /.
 * none: no guard; direct: the request guard, trustProxy unset (the socket peer is the
 * client); proxied: the guard with trustProxy 'loopback', requests carry X-Forwarded-For.
 * Uses the built package (dist/), as an application would.
 */
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createEngine } from '../dist/src/index.js';
import { expressGuard, fastifyGuard, honoGuard } from '../dist/src/http/index.js';
import { BENCH_POLICY } from './http-policy.mjs';

const [framework, variant] = process.argv.slice(2);
const engine = await createEngine(BENCH_POLICY);
const guard = variant === 'none' ? null : variant === 'proxied' ? { trustProxy: 'loopback' } : {};
const host = '127.0.0.1';
let port;
if (framework === 'express5' || framework === 'express4') {
  const app = framework === 'express5' ? express() : express4();
  if (guard) app.use(expressGuard(engine, guard));
  app.get('/', (req, res) => res.send('ok'));
  const server = app.listen(0, host);
  await new Promise((r) => server.once('listening', r));
  port = server.address().port;
} else if (framework === 'fastify') {
  const app = Fastify();
  if (guard) await app.register(fastifyGuard, { engine, ...guard });
  app.get('/', async () => 'ok');
  await app.listen({ host, port: 0 });
  port = app.server.address().port;
} else if (framework === 'hono') {
  const app = new Hono();
  if (guard) app.use(honoGuard(engine, guard));
  app.get('/', (c) => c.text('ok'));
  const server = serve({ fetch: app.fetch, port: 0, hostname: host });
  await new Promise((r) => server.once('listening', r));
  port = server.address().port;
} else {
  throw new Error(`unknown framework ${framework}`);
}
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on('SIGTERM', () => process.exit(0));
