import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { HOST_NAME_PATTERN, MAX_INSTALLED_FINGERPRINTS, SSH_FINGERPRINT_PATTERN } from '../host-report-format.ts';

/**
 * What `jitca trust-sync` tells the CA with each fetch of /v1/trust/bundle.json:
 * - `X-Jitca-Host`: the host's name (1 to 253 characters: letters, digits, dot, hyphen,
 *   underscore; starting with a letter or digit);
 * - `X-Jitca-Installed`: the SSH user CA fingerprints (`SHA256:...` as ssh-keygen -l prints them)
 *   in its TrustedUserCAKeys file before this fetch, comma-separated, empty for none.
 * A header, not the ETag: an ETag names one bundle version, which the server forgets at the next
 * rotation; fingerprints say what the host trusts whatever the server remembers.
 */
export const HOST_HEADER = 'x-jitca-host';
export const INSTALLED_HEADER = 'x-jitca-installed';

export interface HostReportHeaders {
  host: string;
  installed: string[];
}

/** undefined when the caller sent no report (a plain fetch); ERR_HOST_REPORT_INVALID when it sent a malformed one. */
export function parseHostReportHeaders(headers: IncomingHttpHeaders): HostReportHeaders | undefined {
  const host = headers[HOST_HEADER];
  const installed = headers[INSTALLED_HEADER];
  if (host === undefined && installed === undefined) return undefined;
  if (typeof host !== 'string' || !HOST_NAME_PATTERN.test(host)) {
    throw invalid('X-Jitca-Host must be one host name of 1 to 253 letters, digits, dots, hyphens or underscores', 'host');
  }
  if (Array.isArray(installed)) throw invalid('X-Jitca-Installed must be sent once', 'installed');
  const fingerprints = installed === undefined || installed.trim() === '' ? [] : installed.split(',').map((item) => item.trim());
  if (fingerprints.length > MAX_INSTALLED_FINGERPRINTS || !fingerprints.every((fingerprint) => SSH_FINGERPRINT_PATTERN.test(fingerprint))) {
    throw invalid(`X-Jitca-Installed must be at most ${MAX_INSTALLED_FINGERPRINTS} comma-separated SHA256:<base64> fingerprints`, 'installed');
  }
  return { host, installed: [...new Set(fingerprints)].sort() };
}

function invalid(message: string, field: string): JitcaError {
  return new JitcaError(ErrorCodes.HOST_REPORT_INVALID, message, { details: { field } });
}
