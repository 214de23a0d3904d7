/**
 * `policy evaluate --enrolled-key FILE.json`: the enrollment facts a decision is made with, as
 * `GET /v1/keys` lists a key or `jitca attestation verify` prints its facts (kind piv|fido) —
 * so the security team can ask "would this YubiKey pass this role?" without a server.
 */
import { readFileSync } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { KeyEnrollmentFacts } from '../policy/types.ts';

const MAX_FILE_BYTES = 64 * 1024;
const KINDS = ['software', 'piv', 'fido'] as const;

export function readEnrolledKeyFile(file: string): KeyEnrollmentFacts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read --enrolled-key ${file}`, { cause: error });
  }
  if (text.length > MAX_FILE_BYTES) throw new JitcaError(ErrorCodes.INPUT_TOO_LARGE, `--enrolled-key ${file} is larger than ${MAX_FILE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--enrolled-key ${file} is not JSON`, { cause: error });
  }
  return enrollmentFactsOf(value, file);
}

export function enrollmentFactsOf(value: unknown, source: string): KeyEnrollmentFacts {
  const bad = (what: string): JitcaError => new JitcaError(ErrorCodes.REQUEST_INVALID, `--enrolled-key ${source}: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be a JSON object');
  const facts = value as Record<string, unknown>;
  const kind = facts['kind'];
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) throw bad(`"kind" must be one of ${KINDS.join(', ')}`);
  const attested = facts['attested'] ?? false;
  if (typeof attested !== 'boolean') throw bad('"attested" must be a boolean');
  const text = (name: string): Record<string, string> => {
    const member = facts[name];
    if (member === undefined) return {};
    if (typeof member !== 'string') throw bad(`"${name}" must be a string`);
    return { [name]: member };
  };
  const flags = facts['flags'];
  if (flags !== undefined && (typeof flags !== 'object' || flags === null || typeof (flags as { up?: unknown }).up !== 'boolean' || typeof (flags as { uv?: unknown }).uv !== 'boolean')) {
    throw bad('"flags" must be {"up": boolean, "uv": boolean}');
  }
  return {
    kind: kind as KeyEnrollmentFacts['kind'],
    attested: kind !== 'software' && attested,
    ...text('root'),
    ...text('firmware'),
    ...text('pinPolicy'),
    ...text('touchPolicy'),
    ...(flags === undefined ? {} : { flags: { up: (flags as { up: boolean }).up, uv: (flags as { uv: boolean }).uv } }),
  };
}
