import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';

/**
 * The client also runs as one executable (scripts/build-client), where there is no source tree:
 * no import.meta.url, no files beside the code. What the code reads from its own tree goes
 * through here, so each place works both from a checkout and from that executable.
 */

/** Runs from the single executable built by scripts/build-client. */
export function isSingleExecutable(): boolean {
  return isSea();
}

/**
 * A text file shipped with the code: from the checkout (relative to the calling module's URL),
 * or the executable's asset of the same name (scripts/build-client stores it under `assetKey`).
 */
export function readShippedText(assetKey: string, checkoutUrl: () => URL): string {
  return isSea() ? getAsset(assetKey, 'utf8') : readFileSync(checkoutUrl(), 'utf8');
}
