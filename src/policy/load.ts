/**
 * Loads the policy file: size limit, JSON, duplicate keys, schema (with defaults), semantic checks.
 * Every failure is a JitcaError naming the JSON Pointer of the bad value in `details.path`, so a
 * reviewer can go straight to the line. The returned policy is deeply frozen: what was reviewed is
 * what evaluate() sees for the life of the process.
 */
import { hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { isCidr, parseCidr } from './cidr.ts';
import { escapePointerToken, findDuplicateKey } from './json-duplicates.ts';
import { DEFAULT_TTL_CEILING_SECONDS, MAX_POLICY_BYTES } from './patterns.ts';
import { CIDR_FORMAT, policySchema } from './schema.ts';
import { findSemanticProblem, type PolicyProblem } from './semantics.ts';
import type { Policy } from './types.ts';

/** Parse policy text; `source` (a file name) prefixes error messages. */
export function parsePolicy(text: string, source?: string): Policy {
  if (typeof text !== 'string') throw invalid({ path: '', message: 'policy must be text' }, source);
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap length check comes first.
  if (text.length > MAX_POLICY_BYTES || Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    throw tooLarge(Buffer.byteLength(text, 'utf8'), source);
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;

  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw invalid({ path: '', message: `policy is not valid JSON: ${printable(reason)}` }, source, cause);
  }

  const duplicate = findDuplicateKey(body);
  if (duplicate !== undefined) {
    throw invalid(
      {
        path: duplicate,
        message: `${duplicate} is defined more than once; JSON keeps only the last value, so the file would not mean what it reads`,
      },
      source,
    );
  }

  const validate = policyValidator();
  if (!validate(data)) {
    const first = validate.errors?.[0];
    throw invalid(first === undefined ? { path: '', message: 'policy does not match the schema' } : describeSchemaError(first), source);
  }

  applyComputedDefaults(data);
  const problem = findSemanticProblem(data);
  if (problem !== undefined) throw invalid(problem, source);
  return deepFreeze(data);
}

/** Read and parse a policy file without ever reading more than MAX_POLICY_BYTES + 1 bytes. */
export function loadPolicy(path: string): Policy {
  return loadPolicyWithDigest(path).policy;
}

/**
 * loadPolicy, plus the SHA-256 (hex) of exactly the bytes that were parsed: what the audit log
 * records as the policy in force ("policy.loaded"), so an auditor can match a decision to the
 * reviewed commit of the policy file that made it.
 */
export function loadPolicyWithDigest(path: string): { policy: Policy; sha256: string } {
  const bytes = readPolicyFile(path);
  return { policy: policyFromBytes(bytes, path), sha256: policyDigestOf(bytes) };
}

/** The SHA-256 (hex) of a policy file's bytes: the digest policy.loaded records. */
export function policyDigestOf(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

/**
 * The policy file's bytes, never more than MAX_POLICY_BYTES + 1 read. Apart from parsing so that a
 * reload can audit the digest of a file it refuses (issuance/policy-reload.ts).
 */
export function readPolicyFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw invalid({ path: '', message: `cannot open policy file: ${errnoCode(cause)}` }, path, cause);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid({ path: '', message: 'policy path is not a regular file' }, path);
    if (stat.size > MAX_POLICY_BYTES) throw tooLarge(stat.size, path);
    // Read to EOF with a hard cap: the file may grow between fstat and read.
    const buffer = Buffer.alloc(MAX_POLICY_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > MAX_POLICY_BYTES) throw tooLarge(length, path);
    }
    return buffer.subarray(0, length);
  } catch (cause) {
    if (cause instanceof JitcaError) throw cause;
    throw invalid({ path: '', message: `cannot read policy file: ${errnoCode(cause)}` }, path, cause);
  } finally {
    closeSync(fd);
  }
}

/** Parse a policy file's bytes (UTF-8); `path` prefixes error messages. */
export function policyFromBytes(bytes: Uint8Array, path: string): Policy {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw invalid({ path: '', message: 'policy file is not valid UTF-8' }, path, cause);
  }
  return parsePolicy(text, path);
}

let compiled: ValidateFunction<Policy> | undefined;

function policyValidator(): ValidateFunction<Policy> {
  if (compiled === undefined) {
    const ajv = new Ajv({
      strict: true,
      allErrors: false,
      // Static defaults (ttlOverMax "cap", extensions ["permit-pty"], ...) come from the schema.
      useDefaults: true,
      discriminator: true,
      // parentSchema and data on errors, for messages that say what is allowed.
      verbose: true,
    });
    ajv.addFormat(CIDR_FORMAT, { type: 'string', validate: (value: string) => isCidr(value) });
    compiled = ajv.compile<Policy>(policySchema);
  }
  return compiled;
}

/** defaultTtlSeconds depends on maxTtlSeconds, which a static schema default cannot express. */
function applyComputedDefaults(policy: Policy): void {
  for (const role of policy.roles) {
    const declared = role as { defaultTtlSeconds?: number };
    if (declared.defaultTtlSeconds === undefined) {
      role.defaultTtlSeconds = Math.min(role.maxTtlSeconds, DEFAULT_TTL_CEILING_SECONDS);
    }
  }
}

function describeSchemaError(error: ErrorObject): PolicyProblem {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const at = (path: string, text: string): PolicyProblem => ({ path, message: `${path === '' ? '(root)' : path} ${text}` });
  switch (error.keyword) {
    case 'required':
      return at(child(error.instancePath, String(params.missingProperty)), 'is required');
    case 'additionalProperties': {
      const allowed = Object.keys((parent.properties ?? {}) as Record<string, unknown>);
      return at(
        child(error.instancePath, String(params.additionalProperty)),
        `is not an allowed field; allowed here: ${allowed.join(', ')}`,
      );
    }
    case 'format': {
      const parsed = typeof error.data === 'string' ? parseCidr(error.data) : undefined;
      const reason = parsed !== undefined && !parsed.ok ? `: it ${parsed.reason}` : '';
      return at(error.instancePath, `must be a CIDR block like 10.0.0.0/8 or 2001:db8::/32${reason}`);
    }
    case 'pattern':
      return at(error.instancePath, typeof parent.description === 'string' ? `must be ${parent.description}` : `${error.message}`);
    case 'enum':
      return at(error.instancePath, `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`);
    case 'const':
      return at(error.instancePath, `must be ${JSON.stringify(params.allowedValue)}`);
    case 'discriminator':
      return at(child(error.instancePath, String(params.tag)), 'must be "auto" or "manual"');
    case 'uniqueItems': {
      // ajv's i/j order differs between its loops; point at the later copy.
      const [earlier, later] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return at(`${error.instancePath}/${later}`, `repeats item ${earlier}; list items must be unique`);
    }
    default:
      return at(error.instancePath, `${error.message ?? 'is invalid'}`);
  }
}

function child(pointer: string, token: string): string {
  return `${pointer}/${escapePointerToken(token)}`;
}

function invalid(problem: PolicyProblem, source: string | undefined, cause?: unknown): JitcaError {
  const prefix = source === undefined ? '' : `${printable(source)}: `;
  return new JitcaError(ErrorCodes.POLICY_INVALID, `${prefix}${printable(problem.message)}`, {
    details: { path: problem.path, ...(source === undefined ? {} : { source }) },
    ...(cause === undefined ? {} : { cause }),
  });
}

function tooLarge(size: number, source: string | undefined): JitcaError {
  const prefix = source === undefined ? '' : `${printable(source)}: `;
  return new JitcaError(
    ErrorCodes.INPUT_TOO_LARGE,
    `${prefix}policy is ${size} bytes; the limit is ${MAX_POLICY_BYTES} bytes (1 MiB)`,
    { details: { path: '', size, limit: MAX_POLICY_BYTES, ...(source === undefined ? {} : { source }) } },
  );
}

function errnoCode(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}

function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/gu, '?');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
