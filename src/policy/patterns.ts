/**
 * Value shapes shared by the policy schema (what a reviewed file may say) and the request checks in
 * evaluate (what a requester may ask). One source so a value the policy can grant is always a value a
 * request can name, and the other way round.
 */
import type { SshExtensionName } from './types.ts';

/*
 * Bounds shared by the policy and by requests, each the size a real value needs with room to spare:
 * a request is held to them before anything is written (api/schemas.ts), and every denial is
 * audited, so they are also what one refused request can cost the audit log (SECURITY.md).
 */
/**
 * Longest list a role may grant or a request may ask for (principals, commands, source addresses).
 * A request names a subset of one role's list, so it never needs more items than the role has.
 */
export const MAX_LIST_ITEMS = 32;
/**
 * Principals are login names: useradd refuses names over 32 characters, and sshd matches a
 * principal against the user name or an AuthorizedPrincipalsFile line. Twice that is plenty.
 */
export const MAX_PRINCIPAL_LENGTH = 64;
export const MAX_GROUP_LENGTH = 256;
/**
 * One command line run through the gateway, such as "kubectl -n payments logs deploy/api
 * --since=10m" (49 characters); five times that leaves room for long resource names.
 */
export const MAX_COMMAND_LENGTH = 256;
/** A reason is a ticket reference and a sentence or two ("INC-4242: p99 latency, reading pprof"). */
export const MAX_REASON_LENGTH = 512;
/**
 * The longest CIDR text: an IPv6 address written with an embedded IPv4 address (45 characters,
 * INET6_ADDRSTRLEN less its NUL) and "/128".
 */
export const MAX_CIDR_LENGTH = 49;
/** The policy file is reviewed by people; anything larger is a mistake or an attack on the loader. */
export const MAX_POLICY_BYTES = 1024 * 1024;

export const MIN_TTL_SECONDS = 60;
/** One day: certificates here are for a debugging session, not a workday rota. */
export const MAX_TTL_SECONDS = 86_400;
/** Default lifetime when a role names none: the seeds' 30-minute debug session, never above the max. */
export const DEFAULT_TTL_CEILING_SECONDS = 1800;

export const ROLE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
/**
 * Identity-provider groups and principals travel in comma-separated lists (sshd's principals
 * matching, OpenSSH PROTOCOL.certkeys name-lists) and in log lines: no whitespace, commas or controls.
 */
export const GROUP_PATTERN = '^[^\\s,\\u0000-\\u001f\\u007f]+$';
export const PRINCIPAL_PATTERN = '^[^\\s,\\u0000-\\u001f\\u007f]+$';
/** A command is one line run by the gateway: no newline, NUL or other control characters. */
export const COMMAND_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
/**
 * Reasons may span lines (tab and newline allowed), nothing else from C0/DEL, and must hold one
 * character that is not whitespace: an audited reason of "   " says nothing. See reason.ts.
 */
export const REASON_PATTERN = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u0008\\u000b-\\u001f\\u007f]*$';
/** Lower-case DNS name of two or more labels (RFC 1123 §2.1), used as "name@domain" suffix. */
export const DNS_NAME_PATTERN =
  '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$';

/** Cluster names are chosen by operators; keep them to a conservative token. */
export const CLUSTER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
/** Kubernetes namespace names are RFC 1123 labels. */
export const NAMESPACE_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$';
/** Pod and node names are RFC 1123 subdomains (at most 253 characters). */
export const OBJECT_NAME_PATTERN = '^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$';
/** In a role's scope lists, "*" allows any value; a request must always name a concrete value. */
export const SCOPE_WILDCARD = '*';

export const SSH_EXTENSION_NAMES: readonly SshExtensionName[] = [
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
];

/** Same flags ajv uses for `pattern` ("u"), so the schema and evaluate agree on every string. */
export function compilePattern(pattern: string): RegExp {
  return new RegExp(pattern, 'u');
}
