/**
 * What a bearer token's verification costs the event loop, with the verified-token cache and
 * without it (issue 16), alternating, on the same verifier settings and the same tokens from the
 * real OpenID provider: CPU of this process per verification (process.cpuUsage: the event loop
 * plus the libuv pool WebCrypto uses), and wall time. Reports, does not assert.
 *
 * Run: ./scripts/node node bench/token-verify.ts [--verifications 5000] [--rounds 3] [--tokens 16]
 */
import { parseArgs } from 'node:util';
import { createOidcVerifier } from '../src/authn/oidc-verifier.ts';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { machineLine } from './references.ts';

const { values } = parseArgs({ options: { verifications: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' }, tokens: { type: 'string', default: '16' } } });
const verifications = Number(values.verifications);
const audience = 'urn:jitca:api';
const accounts = Object.fromEntries(Array.from({ length: Number(values.tokens) }, (_, i) => [`eng${i}`, { groups: ['oncall-payments'] }]));
const oidc = await startOidcProvider({ accounts, audience });
try {
  const tokens = await Promise.all(Object.keys(accounts).map((name) => oidc.tokenFor(name, { expiresInSeconds: 3600 })));
  console.log(machineLine());
  console.log(`token-verify: ${verifications} verifications of ${tokens.length} reused tokens per run, 8 in flight`);
  const run = async (entries: number) => {
    const verifier = createOidcVerifier({ issuer: oidc.issuer, audience, jwksUri: oidc.jwksUri }, { verifiedTokenCacheEntries: entries });
    for (const token of tokens) await verifier.verify(token); // key set fetched, JIT warm
    for (const token of tokens) await verifier.verify(token);
    const cpu = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < verifications) await verifier.verify(tokens[next++ % tokens.length]!);
      }),
    );
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / verifications, wallUs: ((performance.now() - started) * 1000) / verifications };
  };
  for (let round = 1; round <= Number(values.rounds); round++) {
    const without = await run(0);
    const withCache = await run(4096);
    console.log(
      `round ${round}: without the cache ${without.cpuUs.toFixed(1)} µs CPU, ${without.wallUs.toFixed(1)} µs wall per verification; ` +
        `with it ${withCache.cpuUs.toFixed(1)} µs CPU, ${withCache.wallUs.toFixed(1)} µs wall; saved ${(without.cpuUs - withCache.cpuUs).toFixed(1)} µs CPU`,
    );
  }
} finally {
  await oidc.close();
}
