/**
 * The shape of what trust-sync reports about its host (X-Jitca-Host, X-Jitca-Installed), one
 * definition for the client that sends it, the API that checks it and the store that keeps it.
 */

/** 1 to 253 letters, digits, dots, hyphens or underscores, starting with a letter or digit. */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
/** An SSH key fingerprint as `ssh-keygen -l` prints it. */
export const SSH_FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** More CA keys than any rotation publishes at once (next, active, retiring, and spares). */
export const MAX_INSTALLED_FINGERPRINTS = 16;
