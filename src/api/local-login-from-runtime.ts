import type { LocalLoginContext } from '../authn/local-login.ts';
import { createLocalSessionVerifier, SESSION_KEY_SLOT, type LocalSessionVerifier } from '../authn/local-session.ts';
import type { CaRuntime } from '../ca-runtime.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * Local identities as the runtime's config has them: the login routes' context and the session
 * verifier, over the session key `jitca init` created in the key manager. Undefined when
 * `localIdentities.enabled` is false.
 */
export function localLoginFor(runtime: CaRuntime): { login: LocalLoginContext; verifier: LocalSessionVerifier } | undefined {
  const settings = runtime.config.localIdentities;
  if (!settings.enabled) return undefined;
  const signer = runtime.keys.signer(SESSION_KEY_SLOT);
  if (signer === undefined) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `localIdentities is on but the key manager holds no session key ${SESSION_KEY_SLOT.caName}/${SESSION_KEY_SLOT.generation}: run jitca init`);
  }
  const store = runtime.store;
  return {
    login: {
      store,
      sessionSigner: () => signer,
      clock: runtime.sshIssuance.clock,
      namespace: settings.namespace,
      challengeTtlSeconds: settings.challengeTtlSeconds,
      challengesPerName: settings.challengesPerName,
      challengesPerAddress: settings.challengesPerAddress,
      sessionTtlSeconds: settings.sessionTtlSeconds,
    },
    verifier: createLocalSessionVerifier({ signer, findUser: (name) => store.findLocalUser(name), clock: runtime.sshIssuance.clock }),
  };
}
