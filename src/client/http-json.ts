import http from 'node:http';
import https from 'node:https';
import { ErrorCodes, JitcaError } from '../errors.ts';

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

/** Replies larger than this are not a jitca or OIDC answer. */
const MAX_REPLY_BYTES = 1024 * 1024;

export interface BytesResponse {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  form?: Record<string, string>;
  ca?: string | Buffer;
  timeoutMs?: number;
}

/**
 * A small JSON-over-HTTP(S) client for the engineer's helper: node:https so a private CA file can
 * be trusted for the jitca server without touching the process-wide trust store.
 */
export async function requestJson(url: string, options: RequestOptions = {}): Promise<JsonResponse> {
  const response = await requestBytes(url, { ...options, headers: { accept: 'application/json', ...options.headers } });
  const text = response.body.toString('utf8');
  let body: Record<string, unknown> = {};
  if (text.length > 0) {
    try {
      const parsed: unknown = JSON.parse(text);
      body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { value: parsed };
    } catch {
      body = { text };
    }
  }
  return { status: response.status, body, headers: response.headers };
}

/** The same request, with the reply body as bytes (trust bundles, KRLs). */
export function requestBytes(url: string, options: RequestOptions = {}): Promise<BytesResponse> {
  const target = new URL(url);
  const payload =
    options.form !== undefined ? new URLSearchParams(options.form).toString() : options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined) {
    headers['content-type'] = options.form !== undefined ? 'application/x-www-form-urlencoded' : 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, ca: options.ca, timeout: options.timeoutMs ?? 15_000 },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) request.destroy(new Error(`reply from ${target.host} exceeds ${MAX_REPLY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers: response.headers }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`request to ${target.host} timed out`)));
    request.on('error', (error) =>
      reject(new JitcaError(ErrorCodes.SERVER_UNREACHABLE, `cannot reach ${target.origin}: ${error.message}`, { retryable: true, cause: error })),
    );
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}
