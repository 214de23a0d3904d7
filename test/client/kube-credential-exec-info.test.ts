import { describe, expect, it } from 'vitest';
import { isJitcaError, ErrorCodes } from '../../src/errors.ts';
import {
  EXEC_CREDENTIAL_API_VERSIONS,
  execCredentialResponse,
  parseExecCredentialRequest,
  type ExecCredentialApiVersion,
} from '../../src/client/kube-credential-exec-info.ts';
import { codeOf } from '../support/error-codes.ts';

/** What client-go (exec.go) puts in KUBERNETES_EXEC_INFO. */
function execInfo(apiVersion: string, spec: Record<string, unknown> = { interactive: false }): string {
  return JSON.stringify({ kind: 'ExecCredential', apiVersion, spec });
}

describe('KUBERNETES_EXEC_INFO parsing', () => {
  it.each(EXEC_CREDENTIAL_API_VERSIONS)('reads a %s request from kubectl', (apiVersion) => {
    expect(parseExecCredentialRequest(execInfo(apiVersion, { interactive: true }))).toEqual({ apiVersion, interactive: true });
    expect(parseExecCredentialRequest(execInfo(apiVersion))).toEqual({ apiVersion, interactive: false });
  });

  it('answers v1 when the variable is absent or empty (run by hand, or no request)', () => {
    for (const raw of [undefined, '', '  \n']) {
      expect(parseExecCredentialRequest(raw)).toEqual({ apiVersion: 'client.authentication.k8s.io/v1', interactive: false });
    }
  });

  it('treats a missing spec or spec.interactive as not interactive', () => {
    expect(parseExecCredentialRequest(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1' }))).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      interactive: false,
    });
  });

  it('reads spec.cluster when the kubeconfig asks for provideClusterInfo', () => {
    const request = parseExecCredentialRequest(
      execInfo('client.authentication.k8s.io/v1', {
        interactive: false,
        cluster: {
          server: 'https://kube-api:6443',
          'tls-server-name': 'kube-api.internal',
          'certificate-authority-data': 'LS0tLS1CRUdJTg==',
          'insecure-skip-tls-verify': false,
          config: { audience: 'prod' },
        },
      }),
    );
    expect(request.cluster).toEqual({
      server: 'https://kube-api:6443',
      tlsServerName: 'kube-api.internal',
      certificateAuthorityData: 'LS0tLS1CRUdJTg==',
      insecureSkipTlsVerify: false,
      config: { audience: 'prod' },
    });
  });

  it.each([
    ['not JSON', '{"kind":"ExecCredential",'],
    ['a JSON array', '[]'],
    ['a JSON string', '"client.authentication.k8s.io/v1"'],
    ['another kind', JSON.stringify({ kind: 'Pod', apiVersion: 'client.authentication.k8s.io/v1' })],
    ['no apiVersion', JSON.stringify({ kind: 'ExecCredential', spec: {} })],
    ['v1alpha1 (left client-go in 1.24)', execInfo('client.authentication.k8s.io/v1alpha1')],
    ['an unknown group', execInfo('example.com/v1')],
    ['spec not an object', JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', spec: 'x' })],
    ['interactive as a string', execInfo('client.authentication.k8s.io/v1', { interactive: 'true' })],
    ['cluster without server', execInfo('client.authentication.k8s.io/v1', { interactive: false, cluster: { 'tls-server-name': 'x' } })],
    ['cluster CA data as a number', execInfo('client.authentication.k8s.io/v1', { cluster: { server: 'https://x', 'certificate-authority-data': 1 } })],
  ])('refuses %s with ERR_REQUEST_INVALID', (_what, raw) => {
    expect(codeOf(() => parseExecCredentialRequest(raw))).toBe(ErrorCodes.REQUEST_INVALID);
  });

  it('names the versions it answers when kubectl asks for another', () => {
    try {
      parseExecCredentialRequest(execInfo('client.authentication.k8s.io/v1alpha1'));
      expect.unreachable();
    } catch (error) {
      expect(isJitcaError(error) && error.details).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1alpha1',
        allowed: ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'],
      });
    }
  });
});

describe('ExecCredential response', () => {
  const credential = {
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    privateKeyPem: '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n',
    notAfter: new Date('2031-02-03T04:05:06.789Z'),
  };

  it.each(EXEC_CREDENTIAL_API_VERSIONS)('answers a %s request in the same apiVersion (client-go refuses any other)', (apiVersion: ExecCredentialApiVersion) => {
    const response = JSON.parse(JSON.stringify(execCredentialResponse(apiVersion, credential))) as unknown;
    expect(response).toEqual({
      apiVersion,
      kind: 'ExecCredential',
      status: {
        expirationTimestamp: '2031-02-03T04:05:06Z',
        clientCertificateData: credential.certificatePem,
        clientKeyData: credential.privateKeyPem,
      },
    });
  });

  it('writes the expiry as RFC 3339 UTC whole seconds, as metav1.Time does', () => {
    const { status } = execCredentialResponse('client.authentication.k8s.io/v1', { ...credential, notAfter: new Date('2030-12-31T23:59:59.000Z') });
    expect(status.expirationTimestamp).toBe('2030-12-31T23:59:59Z');
    expect(status.expirationTimestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });
});
