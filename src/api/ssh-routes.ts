import type { FastifyPluginAsync } from 'fastify';
import { issueSshCertificate, type SshIssuanceContext } from '../issuance/issue-ssh-certificate.ts';
import { parseDuration } from '../policy/duration.ts';
import type { Scope, SshCertificateRequest } from '../policy/types.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import { countIssuance, type ApiMetrics } from './metrics.ts';
import { noteForLog } from './request-log.ts';
import { errorResponses, issuedReplySchema, pendingReplySchema, sshCertificateRequestSchema } from './schemas.ts';

interface SshCertificateBody {
  publicKey: string;
  role?: string;
  principals?: string[];
  ttl?: string;
  scope?: Partial<Scope>;
  commands?: string[];
  sourceAddresses?: string[];
  operations?: string[];
  reason: string;
}

export interface SshRoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => SshIssuanceContext;
  metrics: ApiMetrics;
  /** Authenticates the person and counts the request against their rate limit (app.ts). */
  preValidation: IdentityHook;
}

/** POST /v1/ssh/certificates: 201 issued, 202 pending approval, 403 denied naming the rule. */
export function sshRoutes(options: SshRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: SshCertificateBody }>(
      '/v1/ssh/certificates',
      {
        preValidation: options.preValidation,
       
        schema: {
          summary: 'Request a short-lived SSH user certificate',
          body: sshCertificateRequestSchema,
          response: { 201: issuedReplySchema, 202: pendingReplySchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const identity = identityOf(request);
        const body = request.body;
        const result = await issueSshCertificate(options.issuance(), identity, {
          publicKey: body.publicKey,
          role: body.role,
          principals: body.principals,
          ttlSeconds: body.ttl === undefined ? undefined : parseDuration(body.ttl),
          scope: body.scope,
          commands: body.commands,
          sourceAddresses: body.sourceAddresses,
          operations: body.operations as SshCertificateRequest['operations'],
          reason: body.reason,
        });
        if (result.status === 'pending') {
          return reply.code(202).send({
            requestId: result.requestId,
            status: 'pending',
            expiresAt: result.expiresAt.toISOString(),
            approvals: [],
            required: result.approval.approvals,
            approverGroups: result.approval.approverGroups,
          });
        }
        countIssuance(options.metrics, { kind: 'ssh-user', role: result.grant.role, validAfter: result.validAfter, validBefore: result.validBefore, operations: result.grant.operations, mode: 'auto' });
        noteForLog(request, { role: result.grant.role });
        return reply.code(201).send({
          requestId: result.requestId,
          status: 'issued',
          certificate: result.certificate,
          serial: result.serial,
          validAfter: result.validAfter.toISOString(),
          validBefore: result.validBefore.toISOString(),
          principals: result.grant.principals,
          notes: result.notes,
        });
      },
    );
  };
}
