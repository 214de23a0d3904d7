import type { FastifyPluginAsync } from 'fastify';
import type { EnrollmentContext, EnrollmentInput } from '../enrollment/enroll-key.ts';
import { enrollKey } from '../enrollment/enroll-key.ts';
import type { KeyManagementContext } from '../enrollment/manage-keys.ts';
import { listKeys, removeKey } from '../enrollment/manage-keys.ts';
import { ENROLLMENT_NAMESPACE } from '../enrollment/possession-proof.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { MAX_SSHSIG_INPUT_BYTES } from '../ssh/sshsig.ts';
import type { EnrolledKey } from '../store/types.ts';
import { clientKey } from './auth-failure-limit.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import { errorResponses } from './schemas.ts';

export interface KeyRoutesOptions {
  enrollment: EnrollmentContext;
  /** The context under the policy in force, asked once per request (app.ts). */
  management: () => KeyManagementContext;
  preValidation: IdentityHook;
}

const pem = { type: 'string', minLength: 1, maxLength: 16384 } as const;

const enrollBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['publicKey', 'challenge'],
  properties: {
    publicKey: { type: 'string', minLength: 1, maxLength: 16384, description: 'authorized_keys line of the key to enroll' },
    challenge: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'id from POST /v1/keys/challenge' },
    signature: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_SSHSIG_INPUT_BYTES,
      description: `ssh-keygen -Y sign -n ${ENROLLMENT_NAMESPACE} output over the challenge's 32 bytes, made with the key: required unless the attestation is FIDO or a PIV CSR`,
    },
    attestation: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'slotCertificate', 'f9Certificate'],
          properties: { kind: { const: 'piv' }, slotCertificate: pem, f9Certificate: pem },
        },
        { type: 'object', additionalProperties: false, required: ['kind', 'csr'], properties: { kind: { const: 'piv-csr' }, csr: pem } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'attestation'],
          properties: { kind: { const: 'fido' }, attestation: { type: 'string', minLength: 1, maxLength: 16384, description: 'ssh-sk-attest-v01 blob, base64' } },
        },
      ],
    },
  },
} as const;

const enrolledKeySchema = {
  type: 'object',
  required: ['id', 'owner', 'fingerprint', 'publicKey', 'kind', 'attested', 'enrolledAt'],
  properties: {
    id: { type: 'string' },
    owner: { type: 'string' },
    fingerprint: { type: 'string' },
    publicKey: { type: 'string' },
    kind: { type: 'string', enum: ['software', 'piv', 'fido'] },
    attested: { type: 'boolean' },
    root: { type: 'string' },
    serial: { type: 'integer' },
    firmware: { type: 'string' },
    pinPolicy: { type: 'string' },
    touchPolicy: { type: 'string' },
    formFactor: { type: 'object', properties: { name: { type: 'string' }, fips: { type: 'boolean' }, cspn: { type: 'boolean' } } },
    flags: { type: 'object', properties: { up: { type: 'boolean' }, uv: { type: 'boolean' } } },
    enrolledAt: { type: 'string' },
  },
} as const;

const challengeReplySchema = {
  type: 'object',
  required: ['challenge', 'expiresAt'],
  properties: {
    challenge: { type: 'string', description: `32 random bytes, base64url: sign them (ssh-keygen -Y sign -n ${ENROLLMENT_NAMESPACE}, or -O challenge= for a new FIDO key) and send this back as the enrollment challenge` },
    expiresAt: { type: 'string' },
  },
} as const;

const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    owner: { type: 'string', minLength: 1, maxLength: 256, description: "key admins: this person's keys" },
    all: { type: 'string', enum: ['true'], description: "key admins: everyone's keys" },
  },
} as const;

const keyIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^key_[0-9a-f]{32}$' } },
} as const;

/**
 * Enrollment of the engineer's keys (src/enrollment): a challenge, the enrollment, the list, the
 * removal. The key and its evidence are the caller's; the owner is always the authenticated person.
 */
export function keyRoutes(options: KeyRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/v1/keys/challenge',
      {
        preValidation: options.preValidation,
        schema: { summary: 'A single-use challenge for enrolling a key', response: { 200: challengeReplySchema, ...errorResponses } },
      },
      async (request) => {
        const actor = identityOf(request);
        if (actor.via === 'gateway') throw new JitcaError(ErrorCodes.FORBIDDEN, 'keys are enrolled by their owner, not through the gateway');
        const issued = await options.enrollment.challenges.issue(actor.subject, clientKey(request.raw.socket.remoteAddress));
        return { challenge: issued.id, expiresAt: issued.expiresAt.toISOString() };
      },
    );

    app.post<{ Body: EnrollmentInput }>(
      '/v1/keys',
      {
        preValidation: options.preValidation,
        schema: { summary: 'Enroll a public key (plain, PIV- or FIDO-attested)', body: enrollBodySchema, response: { 201: enrolledKeySchema, ...errorResponses } },
      },
      async (request, reply) => {
        const enrolled = await enrollKey(options.enrollment, identityOf(request), request.body);
        return reply.code(201).send(enrolled);
      },
    );

    app.get<{ Querystring: { owner?: string; all?: 'true' } }>(
      '/v1/keys',
      {
        preValidation: options.preValidation,
        schema: {
          summary: 'Enrolled keys: your own, or (key admins) anyone\'s',
          querystring: listQuerySchema,
          response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: enrolledKeySchema } } }, ...errorResponses },
        },
      },
      async (request) => {
        const keys: EnrolledKey[] = await listKeys(options.management(), identityOf(request), {
          ...(request.query.owner === undefined ? {} : { owner: request.query.owner }),
          everyone: request.query.all === 'true',
        });
        return { keys };
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/keys/:id',
      {
        preValidation: options.preValidation,
        schema: {
          summary: 'Remove an enrolled key',
          params: keyIdParamsSchema,
          response: { 200: { type: 'object', required: ['id', 'removed'], properties: { id: { type: 'string' }, removed: { const: true } } }, ...errorResponses },
        },
      },
      async (request) => {
        const removed = await removeKey(options.management(), identityOf(request), request.params.id);
        return { id: removed.id, removed: true };
      },
    );
  };
}
