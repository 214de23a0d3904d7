import type { ParsedSshCertificate } from '../ssh/certificate-parse.ts';
import type { SessionGrant } from './session-command.ts';

/**
 * The grant a gateway session acts on, read from the extensions jitca wrote into the certificate
 * (src/issuance/scope-extensions.ts). Undefined when the certificate does not carry a complete,
 * well-formed grant: a session then runs nothing.
 */
export function sessionGrantOf(certificate: Pick<ParsedSshCertificate, 'customExtensions'>, domain: string): SessionGrant | undefined {
  const value = (name: string): string | undefined => certificate.customExtensions[`${name}@${domain}`];
  const cluster = value('scope-cluster');
  const namespace = value('scope-namespace');
  if (cluster === undefined || namespace === undefined) return undefined;
  const pod = value('scope-pod');
  const node = value('scope-node');
  const commandsText = value('commands');
  let commands: string[] | undefined;
  if (commandsText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(commandsText);
    } catch {
      return undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((entry) => typeof entry === 'string' && entry.trim() !== '')) return undefined;
    commands = parsed as string[];
  }
  const operationsText = value('operations');
  return {
    ...(commands === undefined ? {} : { commands }),
    ...(operationsText === undefined ? {} : { operations: operationsText.split(',') }),
    scope: { cluster, namespace, ...(pod === undefined ? {} : { pod }), ...(node === undefined ? {} : { node }) },
  };
}
