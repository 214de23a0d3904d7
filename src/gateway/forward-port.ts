/**
 * Port-forward through the gateway: the one gateway-local port a certificate may forward to. The
 * session (`jitca gateway session`, `port-forward REMOTE_PORT`) runs `kubectl port-forward` for the
 * certificate's pod listening on 127.0.0.1 at this port, and the principals line lets sshd open
 * `-L` channels to exactly this address (`permitopen`), nowhere else. Derived from the serial (sshd
 * passes it, the user cannot choose it), so sessions of different certificates use different ports.
 */
export const FORWARD_PORT_BASE = 40_000;
export const FORWARD_PORT_COUNT = 10_000;

export function forwardPortFor(serial: bigint): number {
  return FORWARD_PORT_BASE + Number(serial % BigInt(FORWARD_PORT_COUNT));
}

/**
 * Whether a certificate may forward at all: it permits port forwarding (sshd ANDs this with the
 * line), its operations include port-forward, and its scope names one pod (a forward goes to that
 * pod, never to a namespace's choice).
 */
export function forwardAllowed(extensions: readonly string[], customExtensions: Readonly<Record<string, string>>, domain: string): boolean {
  const operations = customExtensions[`operations@${domain}`]?.split(',') ?? [];
  const pod = customExtensions[`scope-pod@${domain}`];
  return extensions.includes('permit-port-forwarding') && operations.includes('port-forward') && pod !== undefined && pod !== '' && pod !== '*';
}
