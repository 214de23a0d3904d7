import type { FastifyPluginAsync } from 'fastify';
import { issueX509ClientCertificate, type X509IssuanceContext } from '../issuance/issue-x509-certificate.ts';
import { parseDuration } from '../policy/duration.ts';
import { OPERATION_NAMES } from '../policy/operations.ts';
import type { OperationName, Scope } from '../policy/types.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import { countIssuance, type ApiMetrics } from './metrics.ts';
import { noteForLog } from './request-log.ts';
import { errorResponses, scopeSchema } from './schemas.ts';

export interface X509RoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => X509IssuanceContext;
  metrics: ApiMetrics;
  /** Authenticates the person and counts the request against their rate limit (app.ts). */
  preValidation: IdentityHook;
}

const x509RequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['csr'],
  properties: {
    csr: { type: 'string', minLength: 1, maxLength: 16384, description: 'PEM CERTIFICATE REQUEST; only its key is used' },
    ttl: { type: 'string', minLength: 1, maxLength: 32 },
    cluster: { type: 'string', minLength: 1, maxLength: 256 },
    scope: scopeSchema,
    operations: {
      type: 'array',
      minItems: 1,
      maxItems: OPERATION_NAMES.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...OPERATION_NAMES] },
      description: "the operations needed; the certificate's groups are theirs (absent: the least the role allows)",
    },
  },
} as const;

export const x509ReplySchema = {
  type: 'object',
  required: ['requestId', 'certificate', 'serial', 'notBefore', 'notAfter'],
  properties: {
    requestId: { type: 'string' },
    certificate: { type: 'string' },
    caCertificate: { type: 'string' },
    serial: { type: 'string' },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    groups: { type: 'array', items: { type: 'string' } },
    operations: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** POST /v1/x509/certificates: a short-lived Kubernetes client certificate for the caller. */
export function x509Routes(options: X509RoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { csr: string; ttl?: string; cluster?: string; scope?: Partial<Scope>; operations?: OperationName[] } }>(
      '/v1/x509/certificates',
      {
        preValidation: options.preValidation,
       
        schema: { summary: 'Request a short-lived Kubernetes client certificate', body: x509RequestSchema, response: { 201: x509ReplySchema, ...errorResponses } },
      },
      async (request, reply) => {
        const body = request.body;
        const scope = body.scope ?? (body.cluster === undefined ? undefined : { cluster: body.cluster });
        const result = await issueX509ClientCertificate(options.issuance(), identityOf(request), {
          csr: body.csr,
          ttlSeconds: body.ttl === undefined ? undefined : parseDuration(body.ttl),
          scope,
          ...(body.operations === undefined ? {} : { operations: body.operations }),
        });
        countIssuance(options.metrics, { kind: 'x509-client', role: result.role, validAfter: result.notBefore, validBefore: result.notAfter, operations: result.operations, mode: 'auto' });
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
  };
}
