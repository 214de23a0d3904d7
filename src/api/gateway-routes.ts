import type { FastifyPluginAsync } from 'fastify';
import { issueGatewayKubeCredential } from '../issuance/issue-gateway-kube-credential.ts';
import type { X509IssuanceContext } from '../issuance/issue-x509-certificate.ts';
import { recordGatewaySession, type GatewaySessionEvent } from '../issuance/record-gateway-session.ts';
import { MAX_CERTIFICATE_INPUT_BYTES } from '../ssh/certificate.ts';
import { serviceOf, type IdentityHook } from './authenticate.ts';
import type { ApiMetrics } from './metrics.ts';
import { noteForLog } from './request-log.ts';
import { errorResponses } from './schemas.ts';
import { x509ReplySchema } from './x509-routes.ts';

export interface GatewayRoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => X509IssuanceContext;
  metrics: ApiMetrics;
  /** Authenticates the SSH gateway as itself (authenticateGatewayHook): no engineer's token. */
  preValidation: IdentityHook;
}

const kubeCredentialRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sshCertificate', 'csr'],
  properties: {
    sshCertificate: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_CERTIFICATE_INPUT_BYTES,
      description: 'the SSH certificate the engineer logged in to the gateway with (a -cert.pub line)',
    },
    csr: { type: 'string', minLength: 1, maxLength: 16384, description: 'PEM CERTIFICATE REQUEST; only its key is used' },
  },
} as const;

const sessionEventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sshCertificate', 'event', 'command'],
  properties: {
    sshCertificate: kubeCredentialRequestSchema.properties.sshCertificate,
    event: { type: 'string', enum: ['started', 'ended'] },
    command: { type: 'string', minLength: 1, maxLength: 4096 },
    end: {
      type: 'object',
      additionalProperties: false,
      required: ['reason', 'durationMs'],
      properties: {
        reason: { type: 'string', enum: ['exited', 'expired', 'revoked'] },
        exitCode: { type: 'integer', minimum: 0, maximum: 255 },
        durationMs: { type: 'integer', minimum: 0, maximum: 7 * 24 * 3600 * 1000 },
      },
    },
    recording: {
      type: 'object',
      additionalProperties: false,
      required: ['sha256', 'bytes', 'truncated'],
      properties: {
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        bytes: { type: 'integer', minimum: 0, maximum: 1024 * 1024 * 1024 },
        truncated: { type: 'boolean' },
      },
    },
  },
} as const;

const sessionEventReplySchema = {
  type: 'object',
  required: ['seq', 'hash'],
  properties: { seq: { type: 'integer' }, hash: { type: 'string' } },
} as const;

/**
 * POST /v1/gateway/kube-credentials: one approval, both credentials (issue 18). The SSH gateway
 * presents the certificate an engineer logged in with and gets a Kubernetes client certificate for
 * that engineer's scope and operations, ending no later than the SSH certificate.
 */
export function gatewayRoutes(options: GatewayRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { sshCertificate: string; csr: string } }>(
      '/v1/gateway/kube-credentials',
      {
        preValidation: options.preValidation,
        schema: {
          summary: "The SSH gateway's Kubernetes credential for an engineer's live SSH certificate",
          body: kubeCredentialRequestSchema,
          response: { 201: x509ReplySchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const result = await issueGatewayKubeCredential(options.issuance(), serviceOf(request), request.body);
        options.metrics.issued.inc({ kind: 'x509-client', role: result.role });
        noteForLog(request, { role: result.role });
        return reply.code(201).send({
          requestId: result.requestId,
          certificate: result.certificate,
          caCertificate: result.caCertificatePem,
          serial: result.serial,
          notBefore: result.notBefore.toISOString(),
          notAfter: result.notAfter.toISOString(),
          groups: result.organizations,
          ...(result.operations === undefined ? {} : { operations: result.operations }),
        });
      },
    );

    app.post<{ Body: GatewaySessionEvent }>(
      '/v1/gateway/sessions/events',
      {
        preValidation: options.preValidation,
        schema: {
          summary: "A gateway session's start or end, with its command and recording hash, into the audit log",
          body: sessionEventSchema,
          response: { 201: sessionEventReplySchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const record = await recordGatewaySession(options.issuance().store, serviceOf(request), request.body);
        return reply.code(201).send({ seq: record.seq, hash: record.hash });
      },
    );
  };
}
