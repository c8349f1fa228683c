/**
 * Real servers for the request guard tests: express 5, express 4, fastify and hono
 * (@hono/node-server), each with its guard first and one catch-all route that
 * counts the requests it handles and answers with the framework's own idea of the
 * client (req.ip / request.ip). Loopback only: servers listen on 127.0.0.1,
 * ::ffff:127.0.0.1 (IPv4 peers reported IPv4-mapped) or ::1 with port 0, and clients
 * pick their peer address in 127.0.0.0/8 with localAddress.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { Engine } from '../src/index.js';
import { expressGuard, fastifyGuard, honoGuard, type GuardStats, type RequestGuardOptions } from '../src/http/index.js';

export const FRAMEWORKS = ['express5', 'express4', 'fastify', 'hono'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export interface App {
  framework: Framework;
  host: string;
  port: number;
  /** Requests the route handler ran for. */
  handled: number;
  stats(): GuardStats;
  close(): Promise<void>;
}

export interface AppOptions {
  /** express's `trust proxy` setting / fastify's `trustProxy` (the framework's own). */
  frameworkTrust?: unknown;
}

/** Starts `framework` with the guard on `host`, port 0. */
export async function startApp(framework: Framework, engine: Engine, guard: RequestGuardOptions, host = '127.0.0.1', opts: AppOptions = {}): Promise<App> {
  const app: App = { framework, host, port: 0, handled: 0, stats: () => ({ accepted: 0, dropped: 0, byRule: new Map() }), close: async () => {} };
  let server: http.Server;
  if (framework === 'express5' || framework === 'express4') {
    const e = (framework === 'express5' ? express() : express4()) as express.Express;
    if (opts.frameworkTrust !== undefined) e.set('trust proxy', opts.frameworkTrust);
    const g = expressGuard(engine, guard);
    app.stats = g.stats;
    e.use(g);
    e.use((req, res) => {
      app.handled++;
      res.json({ ip: req.ip });
    });
    server = http.createServer(e);
  } else if (framework === 'fastify') {
    const f = Fastify(opts.frameworkTrust !== undefined ? { trustProxy: opts.frameworkTrust as never } : {});
    await f.register(fastifyGuard, { engine, ...guard });
    f.all('/*', async (request) => {
      app.handled++;
      return { ip: request.ip };
    });
    await f.listen({ host, port: 0 });
    app.stats = () => (f as unknown as { sgfilter: { stats(): GuardStats } }).sgfilter.stats();
    app.port = (f.server.address() as AddressInfo).port;
    app.close = () => f.close();
    return app;
  } else {
    const h = new Hono();
    const g = honoGuard(engine, guard);
    app.stats = g.stats;
    h.use(g);
    h.all('*', (c) => {
      app.handled++;
      return c.json({ ip: null });
    });
    server = serve({ fetch: h.fetch, port: 0, hostname: host }) as http.Server;
  }
  if (!server.listening) {
    if (framework === 'hono') await new Promise((r) => server.once('listening', r));
    else await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  }
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return app;
}

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * Sends one request from `peer` (a loopback address) with `headers` as raw header
 * lines, in order (a name given twice is sent as two lines).
 */
export function send(app: Pick<App, 'host' | 'port'>, peer: string | undefined, headers: [string, string][] = [], path = '/'): Promise<Answer> {
  const host = app.host.startsWith('::ffff:') ? app.host.slice(7) : app.host;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: app.port,
        path,
        method: 'GET',
        localAddress: peer,
        agent: false,
        headers: ['Host', 'app.test', 'Connection', 'close', ...headers.flat()] as unknown as http.OutgoingHttpHeaders,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends requests one after another on one kept-alive connection from `peer`
 * (`before(i)` runs before request i); each answer says whether its request went on
 * the connection the first one opened.
 */
export async function sendKeepAlive(
  app: Pick<App, 'host' | 'port'>,
  peer: string,
  requests: [string, string][][],
  before?: (i: number) => Promise<void>,
): Promise<(Answer & { reused: boolean })[]> {
  const host = app.host.startsWith('::ffff:') ? app.host.slice(7) : app.host;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: peer } as http.AgentOptions);
  const out: (Answer & { reused: boolean })[] = [];
  try {
    for (const [i, headers] of requests.entries()) {
      await before?.(i);
      out.push(
        await new Promise((resolve, reject) => {
          const req = http.request({ host, port: app.port, path: '/', agent, headers: ['Host', 'app.test', ...headers.flat()] as unknown as http.OutgoingHttpHeaders, timeout: 10_000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers, reused: req.reusedSocket }));
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('request timed out')));
          req.on('error', reject);
          req.end();
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return out;
}
