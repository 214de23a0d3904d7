import type { FastifyPluginAsync } from 'fastify';
import { CHALLENGE_PATTERN, createSessionFromSignature, issueLoginChallenge, type LocalLoginContext, type SessionRequest } from '../authn/local-login.ts';
import { LOCAL_NAME_MAX_LENGTH } from '../authn/local-identity-names.ts';
import { MAX_SSHSIG_INPUT_BYTES } from '../ssh/sshsig.ts';
import { isJitcaError } from '../errors.ts';
import { clientKey, type AuthFailureLimiter } from './auth-failure-limit.ts';
import { errorResponses } from './schemas.ts';

export interface LocalAuthRoutesOptions {
  login: LocalLoginContext;
  /** The same per-address budget of failed authentications the bearer-token routes spend. */
  failures: AuthFailureLimiter;
}

const name = { type: 'string', minLength: 1, maxLength: LOCAL_NAME_MAX_LENGTH, description: 'the local user name (`jitca users add`)' } as const;

const challengeBodySchema = { type: 'object', additionalProperties: false, required: ['name'], properties: { name } } as const;

const challengeReplySchema = {
  type: 'object',
  required: ['challenge', 'namespace', 'expiresAt'],
  properties: {
    challenge: { type: 'string', description: 'the text to sign: `ssh-keygen -Y sign -n <namespace> -f KEY` over exactly these bytes' },
    namespace: { type: 'string' },
    expiresAt: { type: 'string' },
  },
} as const;

const sessionBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'challenge', 'signature'],
  properties: {
    name,
    challenge: { type: 'string', pattern: CHALLENGE_PATTERN, description: 'from POST /v1/auth/challenge' },
    signature: { type: 'string', minLength: 1, maxLength: MAX_SSHSIG_INPUT_BYTES, description: 'armoured SSHSIG (-----BEGIN SSH SIGNATURE-----)' },
  },
} as const;

const sessionReplySchema = {
  type: 'object',
  required: ['accessToken', 'tokenType', 'expiresIn', 'expiresAt', 'subject', 'groups'],
  properties: {
    accessToken: { type: 'string' },
    tokenType: { type: 'string', enum: ['Bearer'] },
    expiresIn: { type: 'integer' },
    expiresAt: { type: 'string' },
    subject: { type: 'string' },
    groups: { type: 'array', items: { type: 'string' } },
  },
} as const;

/**
 * Local login (src/authn/local-login.ts): unauthenticated by nature, so both routes are bounded per
 * client address: challenges by the store's count of unanswered ones, sessions by the failed
 * authentication budget (a wrong signature, a spent challenge and an unknown user each count).
 */
export function localAuthRoutes(options: LocalAuthRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { name: string } }>(
      '/v1/auth/challenge',
      { schema: { summary: 'A single-use challenge for a local user to sign with their SSH key', body: challengeBodySchema, response: { 200: challengeReplySchema, ...errorResponses } } },
      async (request) => {
        const issued = await issueLoginChallenge(options.login, request.body.name, clientKey(request.raw.socket.remoteAddress));
        return { challenge: issued.challenge, namespace: issued.namespace, expiresAt: issued.expiresAt.toISOString() };
      },
    );

    app.post<{ Body: SessionRequest }>(
      '/v1/auth/session',
      { schema: { summary: 'Trade a signed challenge for a short-lived jitca session token', body: sessionBodySchema, response: { 200: sessionReplySchema, ...errorResponses } } },
      async (request, reply) => {
        const address = request.raw.socket.remoteAddress;
        try {
          options.failures.admit(address);
        } catch (error) {
          const retryAfter = isJitcaError(error) ? error.details?.['retryAfterSeconds'] : undefined;
          if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
          throw error;
        }
        try {
          const session = await createSessionFromSignature(options.login, request.body);
          return {
            accessToken: session.token,
            tokenType: 'Bearer',
            expiresIn: session.expiresInSeconds,
            expiresAt: session.expiresAt.toISOString(),
            subject: session.subject,
            groups: session.groups,
          };
        } catch (error) {
          if (isJitcaError(error) && error.code.startsWith('ERR_AUTHN_')) options.failures.recordFailure(address);
          throw error;
        }
      },
    );
  };
}
