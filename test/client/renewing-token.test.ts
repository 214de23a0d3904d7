import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClientConfig } from '../../src/client/client-config.ts';
import { cacheToken, renewingToken } from '../../src/client/token-source.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'jitca-renewing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('renewingToken: the token for each poll of a long wait', () => {
  it('runs the token command again for each request', async () => {
    const counter = path.join(dir, 'count');
    writeFileSync(counter, '0');
    const script = path.join(dir, 'token.sh');
    writeFileSync(script, `#!/bin/sh\nn=$(($(cat ${counter}) + 1)); echo $n > ${counter}; echo token-$n\n`, { mode: 0o700 });
    const config: ClientConfig = { server: 'http://127.0.0.1:9', tokenCommand: [script], tokenCache: path.join(dir, 'unused.json') };
    const next = renewingToken(config, 'token-0');
    expect([await next(), await next()]).toEqual(['token-1', 'token-2']);
  });

  it("takes what `jitca login`'s cache holds now, and keeps the last token when the cache has none usable", async () => {
    const config: ClientConfig = { server: 'http://127.0.0.1:9', tokenCache: path.join(dir, 'cache', 'token.json') };
    const next = renewingToken(config, 'first');
    expect(await next()).toBe('first'); // no cache yet: the token the wait started with
    cacheToken(config, 'from-login-in-another-terminal', 3600);
    expect(await next()).toBe('from-login-in-another-terminal');
    cacheToken(config, 'expired', 10); // under the minute a token must still have
    expect(await next()).toBe('from-login-in-another-terminal');
  });
});
