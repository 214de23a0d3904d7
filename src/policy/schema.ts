/**
 * JSON Schema (draft-07, compiled by ajv 8) for the policy file, mirroring ./types.ts. Everything is
 * closed (additionalProperties: false) so a misspelt field fails review instead of being ignored.
 *
 * `description` on string schemas doubles as the error text ("must be <description>"), see load.ts.
 * Checks a schema cannot say (unique role names, default <= max, no system: groups, forceCommand in
 * commands) live in semantics.ts.
 */
import {
  CLUSTER_PATTERN,
  COMMAND_PATTERN,
  DNS_NAME_PATTERN,
  GROUP_PATTERN,
  MAX_COMMAND_LENGTH,
  MAX_GROUP_LENGTH,
  MAX_LIST_ITEMS,
  MAX_PRINCIPAL_LENGTH,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  NAMESPACE_PATTERN,
  OBJECT_NAME_PATTERN,
  PRINCIPAL_PATTERN,
  ROLE_NAME_PATTERN,
  SCOPE_WILDCARD,
  SSH_EXTENSION_NAMES,
} from './patterns.ts';
import { OPERATION_NAMES } from './operations.ts';
import { CLOCK_TIME_PATTERN, WEEKDAYS } from './working-hours.ts';

export type JsonSchema = Record<string, unknown>;

/** Name of the ajv format load.ts registers with the strict validator from cidr.ts. */
export const CIDR_FORMAT = 'cidr';

const MAX_GROUPS = 64;
const MAX_ROLES = 1000;

const groupSchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_GROUP_LENGTH,
  pattern: GROUP_PATTERN,
  description: 'a group name without whitespace, commas or control characters',
};

const groupListSchema: JsonSchema = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_GROUPS,
  uniqueItems: true,
  items: groupSchema,
};

const commandSchema: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_COMMAND_LENGTH,
  pattern: COMMAND_PATTERN,
  description: 'a single-line command without control characters',
};

/** "*" or a concrete value; semantics.ts rejects "*" mixed with other values. */
function scopeListSchema(pattern: string, what: string): JsonSchema {
  return {
    type: 'array',
    minItems: 1,
    maxItems: MAX_LIST_ITEMS,
    uniqueItems: true,
    items: {
      type: 'string',
      pattern: `^(?:\\${SCOPE_WILDCARD}|${pattern.slice(1, -1)})$`,
      description: `"*" or ${what}`,
    },
  };
}

const approvalSchema: JsonSchema = {
  type: 'object',
  required: ['mode'],
  properties: { mode: { type: 'string', enum: ['auto', 'manual'] } },
  // ajv's discriminator picks the branch by "mode", so errors name the real problem instead of
  // listing every oneOf branch.
  discriminator: { propertyName: 'mode' },
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: { mode: { const: 'auto' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'approverGroups', 'approvals'],
      properties: {
        mode: { const: 'manual' },
        approverGroups: groupListSchema,
        approvals: { type: 'integer', enum: [1, 2] },
      },
    },
  ],
};

/** Role.operations: one row of the approval matrix each; semantics.ts refuses a name listed twice. */
const operationsSchema: JsonSchema = {
  type: 'array',
  minItems: 1,
  maxItems: OPERATION_NAMES.length,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'approval', 'maxTtlSeconds'],
    properties: {
      name: { type: 'string', enum: [...OPERATION_NAMES] },
      approval: approvalSchema,
      maxTtlSeconds: { type: 'integer', minimum: MIN_TTL_SECONDS, maximum: MAX_TTL_SECONDS },
      kubernetesGroups: { ...groupListSchema, description: "the Kubernetes groups (O values) this operation grants; each one of the role's kubernetes.groups" },
    },
  },
};

const clockTimeSchema: JsonSchema = { type: 'string', pattern: CLOCK_TIME_PATTERN, description: 'a time of day "HH:MM" (24-hour)' };

/** Role.workingHours; semantics.ts checks that Intl knows the time zone. */
const workingHoursSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['days', 'start', 'end', 'timeZone', 'onCallGroups'],
  properties: {
    days: { type: 'array', minItems: 1, maxItems: 7, uniqueItems: true, items: { type: 'string', enum: [...WEEKDAYS] } },
    start: clockTimeSchema,
    end: clockTimeSchema,
    timeZone: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_+/-]+$', description: 'an IANA time zone such as "Europe/Berlin"' },
    onCallGroups: groupListSchema,
    outsideApproval: {
      type: 'object',
      additionalProperties: false,
      required: ['approverGroups', 'approvals'],
      properties: { approverGroups: groupListSchema, approvals: { type: 'integer', enum: [1, 2] } },
    },
  },
};

/**
 * A Kubernetes signerName: "<DNS domain with a dot>/<name>" (apiserver ValidateSignerName, k8s docs
 * "Certificates and Certificate Signing Requests: Signers").
 */
const SIGNER_NAME_PATTERN =
  '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+/[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$';
/** kube-apiserver refuses spec.expirationSeconds under 600 (validation.go), so no shorter maximum. */
const MIN_CSR_EXPIRATION_SECONDS = 600;

/** Role.kubernetes (types.ts RoleKubernetes); semantics.ts refuses "system:" groups. */
const roleKubernetesSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['groups'],
  properties: {
    groups: groupListSchema,
    maxExpirationSeconds: { type: 'integer', minimum: MIN_CSR_EXPIRATION_SECONDS, maximum: MAX_TTL_SECONDS },
    allowKeyEncipherment: { type: 'boolean' },
    signerNames: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_LIST_ITEMS,
      uniqueItems: true,
      items: {
        type: 'string',
        maxLength: 571,
        pattern: SIGNER_NAME_PATTERN,
        description: 'a signerName such as "jitca.dev/debug-client" or "kubernetes.io/kube-apiserver-client"',
      },
    },
  },
};

const roleSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'groups', 'principals', 'maxTtlSeconds', 'scope', 'approval'],
  properties: {
    name: {
      type: 'string',
      pattern: ROLE_NAME_PATTERN,
      description: 'a role name: 1..63 lower-case letters, digits or "-", not starting with "-"',
    },
    description: { type: 'string', maxLength: 1024 },
    groups: groupListSchema,
    principals: {
      type: 'array',
      // An empty principals list makes an OpenSSH certificate valid for every user
      // (PROTOCOL.certkeys "valid principals"), so a role always names at least one.
      minItems: 1,
      maxItems: MAX_LIST_ITEMS,
      uniqueItems: true,
      items: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_PRINCIPAL_LENGTH,
        pattern: PRINCIPAL_PATTERN,
        description: 'a principal without whitespace, commas or control characters',
      },
    },
    maxTtlSeconds: { type: 'integer', minimum: MIN_TTL_SECONDS, maximum: MAX_TTL_SECONDS },
    defaultTtlSeconds: { type: 'integer', minimum: MIN_TTL_SECONDS, maximum: MAX_TTL_SECONDS },
    ttlOverMax: { type: 'string', enum: ['cap', 'deny'], default: 'cap' },
    scope: {
      type: 'object',
      additionalProperties: false,
      required: ['clusters', 'namespaces'],
      properties: {
        clusters: scopeListSchema(CLUSTER_PATTERN, 'a cluster name (letters, digits, ".", "_", "-")'),
        namespaces: scopeListSchema(NAMESPACE_PATTERN, 'a Kubernetes namespace name (RFC 1123 label)'),
        pods: scopeListSchema(OBJECT_NAME_PATTERN, 'a pod name (RFC 1123 subdomain)'),
        nodes: scopeListSchema(OBJECT_NAME_PATTERN, 'a node name (RFC 1123 subdomain)'),
      },
    },
    commands: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_LIST_ITEMS,
      uniqueItems: true,
      items: commandSchema,
    },
    forceCommand: commandSchema,
    sourceAddresses: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_LIST_ITEMS,
      uniqueItems: true,
      items: { type: 'string', format: CIDR_FORMAT },
    },
    extensions: {
      type: 'array',
      maxItems: SSH_EXTENSION_NAMES.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...SSH_EXTENSION_NAMES] },
      default: ['permit-pty'],
    },
    verifyRequired: { type: 'boolean', default: false },
    approval: approvalSchema,
    allowGateway: { type: 'boolean', default: false },
    kubernetes: roleKubernetesSchema,
    key: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enrolled: { type: 'boolean' },
        attested: { type: 'string', enum: ['piv', 'fido', 'either'] },
        minPinPolicy: { type: 'string', enum: ['once', 'always'] },
        minTouchPolicy: { type: 'string', enum: ['cached', 'always'] },
        userVerification: { type: 'boolean' },
        minFirmware: { type: 'string', pattern: '^\\d{1,4}\\.\\d{1,4}\\.\\d{1,4}$', description: 'a firmware version "major.minor.patch", e.g. "5.4.3"' },
        roots: {
          type: 'array',
          minItems: 1,
          maxItems: MAX_LIST_ITEMS,
          uniqueItems: true,
          items: { type: 'string', minLength: 1, maxLength: 512, description: "an attestation root certificate's subject" },
        },
      },
    },
    operations: operationsSchema,
    workingHours: workingHoursSchema,
  },
};

export const policySchema: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://jitca.dev/schemas/ssh-policy-v1.json',
  title: 'jitca SSH user CA policy',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'extensionDomain', 'roles'],
  properties: {
    version: { const: 1 },
    extensionDomain: {
      type: 'string',
      maxLength: 253,
      pattern: DNS_NAME_PATTERN,
      description: 'a lower-case DNS name with at least two labels, e.g. "jitca.dev"',
    },
    roles: { type: 'array', minItems: 1, maxItems: MAX_ROLES, items: roleSchema },
    revokerGroups: { ...groupListSchema, description: "groups whose members may revoke anyone's SSH certificate through the API" },
    keyAdminGroups: { ...groupListSchema, description: "groups whose members may list and remove anyone's enrolled keys" },
  },
};
