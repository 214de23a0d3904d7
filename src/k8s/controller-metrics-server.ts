import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { registerLeadershipMetrics, type LeadershipStatus } from '../ha/leadership.ts';

export interface ControllerMetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `jitca controller`'s own /metrics (leader, term, transitions: which controller replica holds the
 * Lease, for the "no leader" and "flapping" alerts) and /healthz. The controller has no API, so
 * this is a bare node:http listener with nothing else on it; what it exposes is not secret.
 */
export async function startControllerMetricsServer(options: { host: string; port: number; status: () => LeadershipStatus }): Promise<ControllerMetricsServer> {
  const registry = new Registry();
  registerLeadershipMetrics(registry, options.status);
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      response.writeHead(404).end();
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
