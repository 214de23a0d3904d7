import type { Command } from 'commander';

/** Loads one command's module and returns its register function (main.ts says why lazily). */
export type CommandLoader = () => Promise<(program: Command) => void>;

/**
 * The commands an engineer, an approver or an SSH host runs: they talk to the API over HTTP and
 * never load the CA, the store or the HSM. The single executable (src/cli/client-main.ts,
 * scripts/build-client) carries exactly these, so none of them may import the server side.
 */
export const clientCommands: Record<string, CommandLoader> = {
  'trust-sync': async () => (await import('./trust-sync.ts')).registerTrustSync,
  login: async () => (await import('./login.ts')).registerLogin,
  'ssh-cert': async () => (await import('./ssh-cert.ts')).registerSshCert,
  'ssh-cert-revoke': async () => (await import('./ssh-cert-revoke.ts')).registerSshCertRevoke,
  'kube-credential': async () => (await import('./kube-credential.ts')).registerKubeCredential,
  kubeconfig: async () => (await import('./kubeconfig.ts')).registerKubeconfig,
  requests: async () => (await import('./requests.ts')).registerRequests,
  approve: async () => (await import('./requests.ts')).registerApprove,
  deny: async () => (await import('./requests.ts')).registerDeny,
  attestation: async () => (await import('./attestation.ts')).registerAttestation,
  enroll: async () => (await import('./enroll.ts')).registerEnroll,
  keys: async () => (await import('./enroll.ts')).registerKeys,
  whoami: async () => (await import('./session.ts')).registerWhoami,
  status: async () => (await import('./session.ts')).registerStatus,
  logout: async () => (await import('./session.ts')).registerLogout,
};
