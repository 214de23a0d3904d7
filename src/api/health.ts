import type { FastifyPluginAsync } from 'fastify';
import type { Signer } from '../keys/signer.ts';
import { isJitcaError } from '../errors.ts';
import type { Store } from '../store/types.ts';

/**
 * What /readyz signs: plain ASCII, so it can never be mistaken for anything the CA vouches for
 * (an OpenSSH certificate's signed part starts with a uint32 length, 0x00; X.509 TBS and KRL
 * structures start with 0x30 or "SSHKRL"). The signature is thrown away.
 */
const SIGN_PROBE = Buffer.from('jitca readiness probe: not a certificate\n', 'ascii');

export interface ReadinessSource {
  /** The signer an issuance would use now (the keyring's active SSH user CA generation). */
  readonly sshSigner: Signer;
  store: Pick<Store, 'probeWrite'>;
}

/**
 * /healthz: the process is up. /readyz: what a request would get right now: a signature from the
 * active CA key through the key manager's session pool, and a write transaction that commits.
 * Listing keys or reading a row proves neither: SoftHSM2 signs with a key it holds in memory after
 * its token directory moved, and a full disk or read-only database still answers reads.
 */
export function registerHealthRoutes(runtime: ReadinessSource): FastifyPluginAsync {
  // One probe at a time, shared by concurrent callers: /readyz is unauthenticated, and a flood of
  // it must cost one signature and one commit in flight, not one per request.
  let inFlight: Promise<Record<string, string>> | undefined;
  const probe = (): Promise<Record<string, string>> => {
    inFlight ??= probeAll(runtime).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks = await probe();
      const ready = Object.values(checks).every((value) => value === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
    });
  };
}

async function probeAll(runtime: ReadinessSource): Promise<Record<string, string>> {
  const [hsm, store] = await Promise.all([
    outcome(async () => {
      await runtime.sshSigner.sign(SIGN_PROBE);
    }),
    outcome(() => runtime.store.probeWrite()),
  ]);
  return { hsm, store };
}

async function outcome(check: () => Promise<void>): Promise<string> {
  try {
    await check();
    return 'ok';
  } catch (error) {
    return isJitcaError(error) ? error.code : 'error';
  }
}
