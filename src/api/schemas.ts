import { MAX_CIDR_LENGTH, MAX_COMMAND_LENGTH, MAX_LIST_ITEMS, MAX_PRINCIPAL_LENGTH } from '../policy/patterns.ts';
import { reasonSchema } from '../policy/reason.ts';

/**
 * JSON Schemas for every body and reply (schema-first: fastify validates requests and serializes
 * replies from these, and @fastify/swagger publishes them as /openapi.json). Every object is
 * closed (additionalProperties: false): unknown fields are a 400, not silently dropped.
 */

export const errorReplySchema = {
  $id: 'ErrorReply',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

/**
 * The scope a request names, to Kubernetes' own limits: cluster names are jitca's token of at most
 * 63 characters (CLUSTER_PATTERN), namespaces RFC 1123 labels (63), pods and nodes RFC 1123
 * subdomains (253). The patterns themselves are evaluate's business.
 */
export const scopeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cluster: { type: 'string', minLength: 1, maxLength: 63 },
    namespace: { type: 'string', minLength: 1, maxLength: 63 },
    pod: { type: 'string', minLength: 1, maxLength: 253 },
    node: { type: 'string', minLength: 1, maxLength: 253 },
  },
} as const;

/**
 * Each field is bounded by what a real request needs (the shared bounds in policy/patterns.ts say
 * why), not by the body limit: a request policy refuses is still audited, so these bounds are what
 * one refused request can cost (SECURITY.md, "Audit growth"). Patterns are evaluate's business.
 */
export const sshCertificateRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['publicKey', 'reason'],
  properties: {
    // The largest key OpenSSH makes is RSA-16384: its authorized_keys line is 2,772 characters
    // before the comment, which is dropped when stored.
    publicKey: { type: 'string', minLength: 1, maxLength: 4096, description: 'authorized_keys line of the key to certify' },
    role: { type: 'string', minLength: 1, maxLength: 63, description: 'a role name (ROLE_NAME_PATTERN: at most 63 characters)' },
    principals: { type: 'array', maxItems: MAX_LIST_ITEMS, items: { type: 'string', minLength: 1, maxLength: MAX_PRINCIPAL_LENGTH } },
    // "1h30m", "86400s": no real lifetime needs more (roles cap it at a day).
    ttl: { type: 'string', minLength: 1, maxLength: 16, description: 'lifetime such as 30m; capped or refused by the role' },
    scope: scopeSchema,
    commands: { type: 'array', maxItems: MAX_LIST_ITEMS, items: { type: 'string', minLength: 1, maxLength: MAX_COMMAND_LENGTH } },
    sourceAddresses: { type: 'array', maxItems: MAX_LIST_ITEMS, items: { type: 'string', minLength: 1, maxLength: MAX_CIDR_LENGTH } },
    // Which names exist is policy's answer (rule "operations.unknown", 403), not the schema's.
    operations: { type: 'array', maxItems: MAX_LIST_ITEMS, items: { type: 'string', minLength: 1, maxLength: 32 }, description: 'operations needed (view-logs, view-config, exec, debug, port-forward); default: the least the role allows' },
    reason: reasonSchema,
  },
} as const;

export const issuedReplySchema = {
  type: 'object',
  required: ['requestId', 'status', 'certificate', 'serial', 'validAfter', 'validBefore'],
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['issued'] },
    certificate: { type: 'string' },
    serial: { type: 'string' },
    validAfter: { type: 'string', format: 'date-time' },
    validBefore: { type: 'string', format: 'date-time' },
    principals: { type: 'array', items: { type: 'string' } },
    notes: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** What an approver sees when their approval completed the request: the outcome, not the credential. */
export const approvalIssuedReplySchema = {
  type: 'object',
  required: ['requestId', 'status', 'serial', 'validAfter', 'validBefore'],
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['issued'] },
    serial: { type: 'string' },
    validAfter: { type: 'string', format: 'date-time' },
    validBefore: { type: 'string', format: 'date-time' },
  },
} as const;

export const pendingReplySchema = {
  type: 'object',
  required: ['requestId', 'status'],
  properties: {
    requestId: { type: 'string' },
    status: { type: 'string', enum: ['pending'] },
    expiresAt: { type: 'string', format: 'date-time' },
    approvals: { type: 'array', items: { type: 'string' } },
    required: { type: 'integer' },
    approverGroups: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const requestIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^req_[0-9a-f]{32}$' } },
} as const;

/**
 * Approvals, denials and revocations: the reason is audited, so it is held to the rule a request's
 * reason is (policy/reason.ts, which the revocation code and the CLI apply too).
 */
export const reasonBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason: reasonSchema },
} as const;

const stringList = { type: 'array', items: { type: 'string' } } as const;

/** A request as its requester and its role's approvers see it (request-view.ts). */
export const requestViewSchema = {
  type: 'object',
  required: ['requestId', 'kind', 'state', 'requester', 'createdAt', 'approvals'],
  properties: {
    requestId: { type: 'string' },
    kind: { type: 'string', enum: ['ssh-user', 'x509-client'] },
    state: { type: 'string', enum: ['pending', 'approved', 'issued', 'denied', 'expired'] },
    requester: { type: 'string' },
    role: { type: 'string' },
    principals: { ...stringList, description: 'what the certificate carries: the grant once policy decided one, else what was asked' },
    scope: {
      type: 'object',
      properties: { cluster: { type: 'string' }, namespace: { type: 'string' }, pod: { type: 'string' }, node: { type: 'string' } },
    },
    commands: stringList,
    operations: { ...stringList, description: 'the operations of the approval matrix granted (or asked)' },
    ttlSeconds: { type: 'integer' },
    reason: { type: 'string', description: "the requester's reason" },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time', description: 'when a pending request stops being approvable' },
    approvals: {
      type: 'array',
      items: {
        type: 'object',
        required: ['approver', 'at'],
        properties: { approver: { type: 'string' }, at: { type: 'string', format: 'date-time' }, reason: { type: 'string' } },
      },
    },
    required: { type: 'integer', description: 'pending: distinct approvals the role needs' },
    approverGroups: { ...stringList, description: 'pending: groups whose members may approve' },
    callerMay: {
      type: 'object',
      description: 'pending: whether the caller may approve or deny it now, by the rules the approve and deny routes apply again when called',
      required: ['approve', 'deny'],
      properties: { approve: { type: 'boolean' }, deny: { type: 'boolean' } },
    },
    workingHours: { type: 'string', enum: ['inside', 'outside'], description: "a role with working hours: whether the request was made inside the role's window" },
    decision: {
      type: 'object',
      description: 'final states: how the request ended; a denial names who denied it and why',
      required: ['outcome', 'at'],
      properties: {
        outcome: { type: 'string', enum: ['issued', 'denied', 'expired'] },
        at: { type: 'string', format: 'date-time' },
        by: { type: 'string' },
        reason: { type: 'string' },
        rule: { type: 'string' },
        message: { type: 'string' },
      },
    },
    serial: { type: 'string' },
    certificate: {
      type: 'object',
      description: "issued: the certificate's validity and whether it still holds at the CA's clock; a revocation says when, by whom and why",
      required: ['serial', 'validAfter', 'validBefore', 'state'],
      properties: {
        serial: { type: 'string' },
        validAfter: { type: 'string', format: 'date-time' },
        validBefore: { type: 'string', format: 'date-time' },
        state: { type: 'string', enum: ['valid', 'expired', 'revoked'] },
        revoked: {
          type: 'object',
          required: ['at', 'by', 'reason'],
          properties: { at: { type: 'string', format: 'date-time' }, by: { type: 'string' }, reason: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** Largest page of GET /v1/requests, and the page when none is asked for. */
export const MAX_REQUEST_LIST_PAGE = 100;
export const DEFAULT_REQUEST_LIST_PAGE = 50;

/**
 * GET /v1/requests. Query values are strings (no coercion): the flags are present ("?mine") or
 * "true"; limit is checked against MAX_REQUEST_LIST_PAGE by the route. Unknown parameters are a 400.
 */
export const requestListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: ['pending', 'approved', 'issued', 'denied', 'expired'] },
    mine: { type: 'string', enum: ['', 'true'], description: 'only requests the caller made' },
    'to-approve': { type: 'string', enum: ['', 'true'], description: "only others' requests of roles the caller approves" },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$', description: `page size, 1 to ${MAX_REQUEST_LIST_PAGE} (default ${DEFAULT_REQUEST_LIST_PAGE})` },
    cursor: { type: 'string', minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' },
  },
} as const;

export const requestListReplySchema = {
  type: 'object',
  required: ['requests'],
  properties: {
    requests: { type: 'array', items: requestViewSchema },
    nextCursor: { type: 'string', description: 'present when there may be more: pass it as cursor for the next page' },
  },
} as const;

export const errorResponses = {
  400: { $ref: 'ErrorReply#' },
  401: { $ref: 'ErrorReply#' },
  403: { $ref: 'ErrorReply#' },
  404: { $ref: 'ErrorReply#' },
  409: { $ref: 'ErrorReply#' },
  413: { $ref: 'ErrorReply#' },
  429: { $ref: 'ErrorReply#' },
  503: { $ref: 'ErrorReply#' },
} as const;
