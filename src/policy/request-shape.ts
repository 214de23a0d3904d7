/**
 * Defensive shape checks on an SSH certificate request before policy looks at it. Requests arrive as
 * JSON from the API and the CLI, so the TypeScript type is a hope, not a fact. Every value that can
 * reach the certificate is checked against the same patterns the policy schema uses (patterns.ts).
 */
import { parseCidr } from './cidr.ts';
import { findReasonProblem } from './reason.ts';
import {
  CLUSTER_PATTERN,
  COMMAND_PATTERN,
  MAX_COMMAND_LENGTH,
  MAX_LIST_ITEMS,
  MAX_PRINCIPAL_LENGTH,
  NAMESPACE_PATTERN,
  OBJECT_NAME_PATTERN,
  PRINCIPAL_PATTERN,
  ROLE_NAME_PATTERN,
  compilePattern,
} from './patterns.ts';

const REQUEST_FIELDS = new Set(['role', 'principals', 'ttlSeconds', 'scope', 'commands', 'sourceAddresses', 'operations', 'reason']);
const SCOPE_FIELDS: Readonly<Record<string, { pattern: RegExp; what: string }>> = {
  cluster: { pattern: compilePattern(CLUSTER_PATTERN), what: 'a cluster name (letters, digits, ".", "_", "-")' },
  namespace: { pattern: compilePattern(NAMESPACE_PATTERN), what: 'a namespace name (RFC 1123 label)' },
  pod: { pattern: compilePattern(OBJECT_NAME_PATTERN), what: 'a pod name (RFC 1123 subdomain)' },
  node: { pattern: compilePattern(OBJECT_NAME_PATTERN), what: 'a node name (RFC 1123 subdomain)' },
};
const ROLE_NAME = compilePattern(ROLE_NAME_PATTERN);
const PRINCIPAL = compilePattern(PRINCIPAL_PATTERN);
const COMMAND = compilePattern(COMMAND_PATTERN);
const OPERATION_WORD = /^[a-z][a-z-]{0,31}$/;

/** A message describing the first malformed value, or undefined when the request is well formed. */
export function findRequestProblem(request: unknown): string | undefined {
  if (!isPlainObject(request)) return 'request must be a JSON object';
  for (const key of Object.keys(request)) {
    if (!REQUEST_FIELDS.has(key)) {
      return `request field "${echo(key)}" is not known; allowed: ${[...REQUEST_FIELDS].join(', ')}`;
    }
  }
  const { role, principals, ttlSeconds, scope, commands, sourceAddresses, operations, reason } = request;
  if (role !== undefined && (typeof role !== 'string' || !ROLE_NAME.test(role))) {
    return `role must be a role name (lower-case letters, digits, "-"), got ${describe(role)}`;
  }
  const principalProblem = findListProblem('principals', principals, (value) =>
    value.length > MAX_PRINCIPAL_LENGTH
      ? `is longer than ${MAX_PRINCIPAL_LENGTH} characters`
      : PRINCIPAL.test(value)
        ? undefined
        : 'contains whitespace, a comma or a control character',
  );
  if (principalProblem !== undefined) return principalProblem;
  // Integer and range checks are policy (rule "ttl.invalid"); only the type is a shape question.
  if (ttlSeconds !== undefined && typeof ttlSeconds !== 'number') {
    return `ttlSeconds must be a number of seconds, got ${describe(ttlSeconds)}`;
  }
  if (scope !== undefined) {
    if (!isPlainObject(scope)) return `scope must be an object with cluster, namespace, pod or node`;
    for (const [key, value] of Object.entries(scope)) {
      const field = SCOPE_FIELDS[key];
      if (field === undefined) return `scope field "${echo(key)}" is not known; allowed: cluster, namespace, pod, node`;
      if (value === undefined) continue;
      if (typeof value !== 'string' || !field.pattern.test(value)) {
        return `scope.${key} must be ${field.what}, got ${describe(value)}`;
      }
    }
  }
  const commandProblem = findListProblem('commands', commands, (value) =>
    value.length > MAX_COMMAND_LENGTH
      ? `is longer than ${MAX_COMMAND_LENGTH} characters`
      : COMMAND.test(value)
        ? undefined
        : 'contains a newline or another control character',
  );
  if (commandProblem !== undefined) return commandProblem;
  const sourceProblem = findListProblem('sourceAddresses', sourceAddresses, (value) => {
    const parsed = parseCidr(value);
    return parsed.ok ? undefined : `is not a CIDR block: it ${parsed.reason}`;
  });
  if (sourceProblem !== undefined) return sourceProblem;
  // Which names exist is policy (rule "operations.unknown"); here only that they are short words.
  const operationProblem = findListProblem('operations', operations, (value) =>
    OPERATION_WORD.test(value) ? undefined : 'is not an operation name (lower-case letters and "-")',
  );
  if (operationProblem !== undefined) return operationProblem;
  if (reason !== undefined) {
    if (typeof reason !== 'string') return `reason must be text, got ${describe(reason)}`;
    return findReasonProblem(reason);
  }
  return undefined;
}

/**
 * Lists are 1..MAX_LIST_ITEMS unique strings. An empty list is refused rather than read as "none":
 * an OpenSSH certificate with no principals is valid for every user (PROTOCOL.certkeys).
 */
function findListProblem(
  name: string,
  value: unknown,
  checkItem: (item: string) => string | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return `${name} must be a list of strings, got ${describe(value)}`;
  if (value.length === 0) return `${name} must name at least one value, or be left out to get the role's default`;
  if (value.length > MAX_LIST_ITEMS) return `${name} has ${value.length} items; at most ${MAX_LIST_ITEMS} are allowed`;
  const seen = new Set<string>();
  for (const [index, item] of value.entries()) {
    if (typeof item !== 'string' || item.length === 0) return `${name}[${index}] must be a non-empty string, got ${describe(item)}`;
    const problem = checkItem(item);
    if (problem !== undefined) return `${name}[${index}] "${echo(item)}" ${problem}`;
    if (seen.has(item)) return `${name}[${index}] "${echo(item)}" is listed twice`;
    seen.add(item);
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${echo(value)}"`;
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${echo(String(value))}`;
}

/** Requests are untrusted: echo at most 64 characters, control characters replaced. */
export function echo(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/gu, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}...` : clean;
}
