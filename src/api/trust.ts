import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { sshCaSigners, type CaRuntime } from '../ca-runtime.ts';
import { buildSshKrl } from '../issuance/ssh-krl.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';

/**
 * Trust bundles over HTTP. The ETag lets sshd-side fetchers poll cheaply and replace
 * TrustedUserCAKeys only when a rotation changed it.
 */
export function registerTrustRoutes(runtime: CaRuntime): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/trust/ssh-user-ca', async (request, reply) => {
      const body = sshTrustBundle(runtime);
      const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
      reply.header('etag', etag).header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('text/plain; charset=utf-8').send(body);
    });

    // sshd RevokedKeys: the same revocations give the same bytes (ssh-krl.ts), so the ETag holds
    // until something is revoked or a revoked certificate expires.
    app.get('/v1/trust/ssh-krl', async (request, reply) => {
      const body = Buffer.from(await buildSshKrl(runtime.store, sshCaSigners(runtime), runtime.sshIssuance.clock.now()));
      const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
      reply.header('etag', etag).header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('application/octet-stream').send(body);
    });
  };
}
