import Fastify, { type FastifyInstance } from 'fastify';
import type { CaRuntime } from '../ca-runtime.ts';
import { registerHealthRoutes } from './health.ts';
import { registerTrustRoutes } from './trust.ts';

export interface AppOptions {
  logger?: boolean;
}

/**
 * The HTTP API factory: one plugin per route group. Issue "Certificate API" adds authentication,
 * issuance and approvals on top of this.
 */
export function buildApp(runtime: CaRuntime, options: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: 'info',
            // Tokens and PINs never reach the log, whatever a client sends.
            redact: ['req.headers.authorization', 'req.headers.cookie', '*.pin', '*.token'],
          },
    bodyLimit: 64 * 1024,
    requestTimeout: 10_000,
  });
  app.register(registerHealthRoutes(runtime));
  app.register(registerTrustRoutes(runtime));
  return app;
}
