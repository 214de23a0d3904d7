import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { CaRuntime } from '../ca-runtime.ts';
import { sshKrlOf } from '../issuance/ssh-krl.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';

/**
 * Trust files over HTTP. The ETag lets host-side fetchers (`jitca trust-sync`) poll cheaply and
 * replace TrustedUserCAKeys or RevokedKeys only when a rotation or a revocation changed them.
 */
export function registerTrustRoutes(runtime: CaRuntime): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/trust/ssh-user-ca', async (request, reply) =>
      sendWithEtag(request, reply, sshTrustBundle(runtime), 'text/plain; charset=utf-8'),
    );

    // sshd RevokedKeys: the same revocations give the same bytes (ssh-krl.ts), so the ETag holds
    // until something is revoked or a revoked certificate expires.
    app.get('/v1/trust/ssh-krl', async (request, reply) => {
      const krl = await sshKrlOf(runtime, runtime.sshIssuance.clock.now());
      return sendWithEtag(request, reply, Buffer.from(krl), 'application/octet-stream');
    });
  };
}

/** 200 with the body and its content-hash ETag, or 304 when the client already has that version. */
function sendWithEtag(request: FastifyRequest, reply: FastifyReply, body: string | Buffer, type: string): FastifyReply {
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  reply.header('etag', etag).header('cache-control', 'no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type(type).send(body);
}
