/**
 * Port-forward through the gateway: the one gateway-local address a certificate may forward to. The
 * session (`jitca gateway session`, `kubectl port-forward REMOTE_PORT`) runs `kubectl port-forward`
 * for the certificate's pod listening there, and the principals line lets sshd open `-L` channels
 * to exactly that address (`permitopen`), nowhere else. Derived from the serial (sshd passes it,
 * the user cannot choose it): a loopback address in 127.0.0.0/8 (every one of them is the gateway's
 * own loopback on Linux) and a port, so two live certificates share a destination only if their
 * serials agree in 24 bits of address and the port's share: about one in 2^24 x 20,000.
 */
export const FORWARD_PORT_BASE = 40_000;
export const FORWARD_PORT_COUNT = 20_000;

export interface ForwardDestination {
  host: string;
  port: number;
}

export function forwardDestinationFor(serial: bigint): ForwardDestination {
  const low = Number(serial & 0xffffffn);
  // 127.0.0.0 and 127.255.255.255 are not host addresses: the last octet is kept within 1..254.
  const host = `127.${(low >> 16) & 0xff}.${(low >> 8) & 0xff}.${1 + ((low & 0xff) % 254)}`;
  const port = FORWARD_PORT_BASE + Number((serial >> 24n) % BigInt(FORWARD_PORT_COUNT));
  return { host, port };
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
