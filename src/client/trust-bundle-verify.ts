import { compactVerify, decodeProtectedHeader } from 'jose';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import type { TrustBundleDocument } from '../issuance/signed-trust-bundle.ts';
import { TRUST_BUNDLE_TYPE } from '../issuance/signed-trust-bundle.ts';
import { parseSshPublicKey, sshPublicKeyToKeyObject, type SshPublicKey } from '../ssh/public-key.ts';

/** The algorithms the CA's keys sign bundles with (signed-trust-bundle.ts jwsAlgorithmFor); nothing else is accepted. */
const ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256'];
/** A bundle lists a handful of generations; anything far larger is not one. */
const MAX_BUNDLE_BYTES = 256 * 1024;

/**
 * Checks a bundle.json (compact JWS) and returns the TrustedUserCAKeys content it carries.
 *
 * Trust on first use, pinned afterwards: `pinned` are the SSH user CA keys the host already
 * trusts (its current TrustedUserCAKeys file, which the last verified bundle wrote). When there
 * are any, the bundle must be signed by one of them: a new signer is accepted only once an
 * earlier bundle listed it (a rotation publishes `next` before it signs). With none (first run),
 * the bundle must be signed by a key it lists itself, and the host trusts what the CA's TLS
 * connection delivered. Anything else is ERR_TRUST_BUNDLE_UNTRUSTED.
 */
export async function verifyTrustBundle(jws: string, pinned: readonly SshPublicKey[]): Promise<{ document: TrustBundleDocument; trustFile: string; signedBy: string }> {
  if (jws.length > MAX_BUNDLE_BYTES) throw untrusted(`the bundle is larger than ${MAX_BUNDLE_BYTES} bytes`);
  let kid: unknown;
  try {
    const header = decodeProtectedHeader(jws);
    if (header.typ !== TRUST_BUNDLE_TYPE) throw untrusted(`the JWS typ is ${String(header.typ)}, not ${TRUST_BUNDLE_TYPE}`);
    kid = header.kid;
  } catch (error) {
    if (isJitcaError(error)) throw error;
    throw untrusted('not a compact JWS');
  }
  const unverified = firstUse(pinned) ? documentOf(jws) : undefined;
  const candidates = firstUse(pinned) ? sshUserKeysOf(unverified as TrustBundleDocument) : pinned;
  for (const key of candidates) {
    try {
      const { payload } = await compactVerify(jws, sshPublicKeyToKeyObject(key), { algorithms: ALGORITHMS });
      const document = parseDocument(Buffer.from(payload).toString('utf8'));
      const keys = sshUserKeysOf(document);
      if (keys.length === 0) throw untrusted('the bundle lists no SSH user CA key');
      return { document, trustFile: keys.map((entry) => `${entry.line}\n`).join(''), signedBy: typeof kid === 'string' ? kid : key.fingerprint };
    } catch (error) {
      if (isJitcaError(error, ErrorCodes.TRUST_BUNDLE_UNTRUSTED)) throw error;
      // Not this key: try the next one.
    }
  }
  throw untrusted(
    firstUse(pinned)
      ? `the bundle is not signed by a key it lists (kid ${String(kid)})`
      : `the bundle (kid ${String(kid)}) is not signed by any of the ${pinned.length} SSH user CA keys this host trusts`,
  );
}

function firstUse(pinned: readonly SshPublicKey[]): boolean {
  return pinned.length === 0;
}

function documentOf(jws: string): TrustBundleDocument {
  const payload = jws.split('.')[1] ?? '';
  return parseDocument(Buffer.from(payload, 'base64url').toString('utf8'));
}

function parseDocument(text: string): TrustBundleDocument {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw untrusted('the bundle payload is not JSON');
  }
  const candidate = document as Partial<TrustBundleDocument> | null;
  if (candidate === null || typeof candidate !== 'object' || candidate.format !== 'jitca-trust-bundle/1' || !Array.isArray(candidate.generations)) {
    throw untrusted('the bundle payload is not a jitca-trust-bundle/1 document');
  }
  return candidate as TrustBundleDocument;
}

/** The SSH user CA keys a document lists, each with its TrustedUserCAKeys line. */
function sshUserKeysOf(document: TrustBundleDocument): Array<SshPublicKey & { line: string }> {
  return document.generations
    .filter((generation) => generation.ca === 'ssh-user')
    .map((generation) => {
      const line = generation.sshPublicKey;
      if (typeof line !== 'string' || /[\r\n\0]/.test(line)) throw untrusted(`generation ${String(generation.keyId)} has no valid sshPublicKey line`);
      try {
        return { ...parseSshPublicKey(line), line };
      } catch {
        throw untrusted(`generation ${String(generation.keyId)} has no valid sshPublicKey line`);
      }
    });
}

function untrusted(message: string): JitcaError {
  return new JitcaError(ErrorCodes.TRUST_BUNDLE_UNTRUSTED, `${message}; nothing was installed`);
}
