import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { approveRequest, denyRequest } from '../issuance/approve-request.ts';
import type { SshIssuanceContext } from '../issuance/issue-ssh-certificate.ts';
import { expireIfDue, requesterOf, requireRequest } from '../issuance/request-lifecycle.ts';
import { requestAccess } from '../policy/request-visibility.ts';
import type { Identity } from '../policy/types.ts';
import type { StoredRequest } from '../store/types.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import { issuedCertificateOf } from './issued-certificate.ts';
import { countIssuance, type ApiMetrics } from './metrics.ts';
import { requestView } from './request-view.ts';
import {
  approvalIssuedReplySchema,
  errorResponses,
  issuedReplySchema,
  pendingReplySchema,
  reasonBodySchema,
  requestIdParamsSchema,
  requestViewSchema,
} from './schemas.ts';

export interface RequestRoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => SshIssuanceContext;
  metrics: ApiMetrics;
  /** Authenticates the person and counts the request against their rate limit (app.ts). */
  preValidation: IdentityHook;
}

type IdParams = { Params: { id: string } };

/** Pending requests: status, approve, deny, and fetching the certificate once approved. */
export function requestRoutes(options: RequestRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.get<IdParams>(
      '/v1/requests/:id',
      {
        preValidation: options.preValidation,
        schema: {
          summary: 'one request as its requester and its approvers see it',
          params: requestIdParamsSchema,
          response: { 200: requestViewSchema, ...errorResponses },
        },
      },
      async (request) => {
        const issuance = options.issuance();
        const identity = identityOf(request);
        const stored = await visibleRequest(issuance, identity, request.params.id);
        const [approvals, issued] = await Promise.all([issuance.store.listApprovals(stored.id), issuedCertificateOf(issuance.store, stored)]);
        const now = new Date(issuance.clock.now());
        return requestView(stored, approvals, { policy: issuance.policy, identity, now, ...(issued === undefined ? {} : { issued }) });
      },
    );

    app.post<IdParams & { Body: { reason: string } }>(
      '/v1/requests/:id/approve',
      {
        preValidation: options.preValidation,
       
        schema: { params: requestIdParamsSchema, body: reasonBodySchema, response: { 200: pendingReplySchema, 201: approvalIssuedReplySchema, ...errorResponses } },
      },
      async (request, reply) => {
        const issuance = options.issuance();
        const identity = identityOf(request);
        await visibleRequest(issuance, identity, request.params.id);
        const result = await approveRequest(issuance, identity, request.params.id, request.body.reason);
        options.metrics.approvals.inc({ mode: 'manual' });
        if (result.status === 'pending') return reply.code(200).send({ ...result, status: 'pending' });
        countIssuance(options.metrics, { kind: 'ssh-user', role: result.grant.role, validAfter: result.validAfter, validBefore: result.validBefore, operations: result.grant.operations, mode: 'manual' });
        // The approver gets the outcome, not the credential: the requester fetches it.
        return reply.code(201).send({
          requestId: result.requestId,
          status: 'issued',
          serial: result.serial,
          validAfter: result.validAfter.toISOString(),
          validBefore: result.validBefore.toISOString(),
        });
      },
    );

    app.post<IdParams & { Body: { reason: string } }>(
      '/v1/requests/:id/deny',
      { preValidation: options.preValidation, schema: { params: requestIdParamsSchema, body: reasonBodySchema, response: { ...errorResponses } } },
      async (request, reply) => {
        const issuance = options.issuance();
        const identity = identityOf(request);
        await visibleRequest(issuance, identity, request.params.id);
        await denyRequest(issuance, identity, request.params.id, request.body.reason);
        return reply.code(204).send();
      },
    );

    app.get<IdParams>(
      '/v1/requests/:id/certificate',
      {
        preValidation: options.preValidation,
       
        schema: { params: requestIdParamsSchema, response: { 200: issuedReplySchema, 202: pendingReplySchema, ...errorResponses } },
      },
      async (request, reply) => {
        const issuance = options.issuance();
        const identity = identityOf(request);
        const stored = await visibleRequest(issuance, identity, request.params.id);
        if (requesterOf(stored).subject !== identity.subject) {
          throw new JitcaError(ErrorCodes.FORBIDDEN, `only the requester may fetch the certificate of request ${stored.id}`);
        }
        if (stored.state === 'pending') {
          const approvals = (await issuance.store.listApprovals(stored.id)).map((approval) => approval.approver);
          return reply.code(202).send({ requestId: stored.id, status: 'pending', expiresAt: stored.expiresAt, approvals });
        }
        const serial = stored.decision['serial'];
        const certificate = stored.state === 'issued' && typeof serial === 'string' ? await issuance.store.findCertificateBySerial(serial) : undefined;
        if (certificate === undefined) {
          throw new JitcaError(ErrorCodes.REQUEST_NOT_PENDING, `request ${stored.id} is ${stored.state}; there is no certificate`, {
            details: { state: stored.state },
          });
        }
        return reply.code(200).send({
          requestId: stored.id,
          status: 'issued',
          certificate: certificate.certificate,
          serial: certificate.serial,
          validAfter: certificate.validAfter,
          validBefore: certificate.validBefore,
          principals: certificate.principals,
        });
      },
    );
  };
}

/**
 * The requester and the role's approvers may see a request; nobody else learns it exists
 * (policy/request-visibility.ts, the rule GET /v1/requests lists by). Every route on a request asks
 * this first: approve, deny and the certificate fetch would otherwise tell an outsider who holds an
 * id (a key ID names it) that it exists, its state, its role and who approves it. Then, for those
 * who may see it, the role's allowGateway (policy/gateway.ts): a gateway acting for them is refused
 * on every route of a role that does not accept it.
 */
async function visibleRequest(issuance: SshIssuanceContext, identity: Identity, id: string): Promise<StoredRequest> {
  const stored = await expireIfDue(issuance, await requireRequest(issuance.store, id));
  const access = requestAccess(issuance.policy, identity, stored);
  if (!access.ok && access.hidden) {
    throw new JitcaError(ErrorCodes.REQUEST_NOT_FOUND, `request ${id} does not exist`, { details: { requestId: id } });
  }
  if (!access.ok) throw new JitcaError(ErrorCodes.POLICY_DENIED, access.message, { details: { rule: access.rule, requestId: id } });
  return stored;
}
