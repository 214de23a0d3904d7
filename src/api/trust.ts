import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { CaRuntime } from '../ca-runtime.ts';
import { loadKubeClientCa } from '../issuance/kube-client-ca.ts';
import { signedTrustBundleSource } from '../issuance/signed-trust-bundle.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';
import { createHostReportRecorder } from './host-report-recorder.ts';
import { parseHostReportHeaders } from './host-report-headers.ts';

/**
 * Trust files over HTTP. The ETag lets host-side fetchers (`jitca trust-sync`) poll cheaply and
 * replace TrustedUserCAKeys or RevokedKeys only when a rotation or a revocation changed them.
 * None needs a token: what they serve is public, and every SSH host fetches them.
 */
export function registerTrustRoutes(runtime: CaRuntime): FastifyPluginAsync {
  return async (app) => {
    const signedBundle = signedTrustBundleSource(runtime.keyring, (generation) => loadKubeClientCa(runtime.config, generation)?.certificate);
    const recordHostReport = createHostReportRecorder({ store: runtime.store, clock: runtime.clock, limits: runtime.config.hostReports });

    app.get('/v1/trust/ssh-user-ca', async (request, reply) =>
      sendWithEtag(request, reply, sshTrustBundle(runtime), 'text/plain; charset=utf-8'),
    );

    // Every trusted generation of both CAs, signed by the active SSH user CA key (a compact JWS),
    // and where trust-sync reports what its host has installed (rotation readiness reads it).
    app.get('/v1/trust/bundle.json', async (request, reply) => {
      // Checked before anything is served or written: a malformed report is a 400 and records nothing.
      const report = parseHostReportHeaders(request.headers);
      const { jws, etag } = await signedBundle();
      if (report !== undefined) {
        // A report that cannot be written (store down, over a cap) must not cost the host its bundle.
        const outcome = await recordHostReport(report, request.ip).catch((error: unknown) => {
          request.log.warn({ err: error, host: report.host }, 'host report not recorded');
          return 'failed';
        });
        // Debug, not warn: in a flood of made-up names this would be one line per request.
        if (outcome === 'rate-limited' || outcome === 'full') request.log.debug({ host: report.host, outcome }, 'host report not recorded');
      }
      reply.header('etag', etag).header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('application/jose; charset=utf-8').send(jws);
    });

    // sshd RevokedKeys: from memory, rebuilt once per change (ssh-krl-cache.ts), so a full GET does
    // no database work and a 304 only compares the ETag.
    app.get('/v1/trust/ssh-krl', async (request, reply) => {
      const krl = await runtime.sshKrl.current();
      return sendTagged(request, reply, krl.bytes, krl.etag, 'application/octet-stream');
    });
  };
}

/** 200 with the body and its content-hash ETag, or 304 when the client already has that version. */
function sendWithEtag(request: FastifyRequest, reply: FastifyReply, body: string | Buffer, type: string): FastifyReply {
  return sendTagged(request, reply, body, `"${createHash('sha256').update(body).digest('base64url')}"`, type);
}

function sendTagged(request: FastifyRequest, reply: FastifyReply, body: string | Buffer, etag: string, type: string): FastifyReply {
  reply.header('etag', etag).header('cache-control', 'no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type(type).send(body);
}
