import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { SshIssuanceContext } from '../issuance/issue-ssh-certificate.ts';
import { revokeSshCertificate } from '../issuance/revoke-ssh-certificate.ts';
import { canRevoke } from '../policy/revocation.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import type { ApiMetrics } from './metrics.ts';
import { errorResponses, reasonBodySchema } from './schemas.ts';

export interface RevocationRoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => SshIssuanceContext;
  metrics: ApiMetrics;
  /** Authenticates the person and counts the request against their rate limit (app.ts). */
  preValidation: IdentityHook;
  /** A revocation was recorded: the published KRL must be rebuilt before it is served again. */
  onRevoked: () => void;
}

const serialParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['serial'],
  properties: { serial: { type: 'string', pattern: '^[1-9][0-9]{0,19}$' } },
} as const;

const revokedReplySchema = {
  type: 'object',
  required: ['serial', 'revoked', 'keyId', 'validBefore'],
  properties: {
    serial: { type: 'string' },
    revoked: { const: true },
    keyId: { type: 'string' },
    validBefore: { type: 'string' },
  },
} as const;

/**
 * POST /v1/ssh/certificates/{serial}/revoke {reason}: the holder revokes their own certificate,
 * or a member of the policy's revokerGroups revokes anyone's (policy/revocation.ts). Audited as
 * ssh.revoked; hosts pick it up from GET /v1/trust/ssh-krl.
 */
export function revocationRoutes(options: RevocationRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { serial: string }; Body: { reason: string } }>(
      '/v1/ssh/certificates/:serial/revoke',
      {
        preValidation: options.preValidation,
       
        schema: {
          summary: 'Revoke an SSH user certificate before it expires',
          params: serialParamsSchema,
          body: reasonBodySchema,
          response: { 200: revokedReplySchema, ...errorResponses },
        },
      },
      async (request) => {
        const actor = identityOf(request);
        let allowedBy = '';
        const issuance = options.issuance();
        const certificate = await revokeSshCertificate(issuance.store, actor, request.params.serial, request.body.reason, (holder) => {
          const check = canRevoke(issuance.policy, actor, holder);
          if (!check.ok) {
            throw new JitcaError(ErrorCodes.POLICY_DENIED, check.message, { details: { rule: check.rule, serial: request.params.serial } });
          }
          allowedBy = check.rule;
        });
        options.onRevoked();
        options.metrics.revoked.inc({ rule: allowedBy });
        return { serial: certificate.serial, revoked: true, keyId: certificate.keyId, validBefore: certificate.validBefore };
      },
    );
  };
}
