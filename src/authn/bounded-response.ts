/**
 * The body of an identity provider's response, read up to `maxBytes` and no further: a JWKS or
 * discovery document is a few kilobytes, and one that streams megabytes (a hostile or broken IdP,
 * or a URL pointing at the wrong thing) must not be buffered whole into the CA's memory. The
 * stream is cancelled as soon as the cap is passed, and a declared Content-Length over the cap is
 * refused before reading anything. Undefined when the body is over the cap: what that means
 * (an IdP outage, a configuration error) is the caller's to say.
 */
export async function readBoundedBody(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, length);
}
