import http from 'node:http';
import https from 'node:https';
import { connectionFailure } from './connection-failure.ts';

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
  /** For the whole exchange, not per idle gap: a server trickling a byte at a time must not hold kubectl forever. */
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
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(deadline);
      reject(connectionFailure(target, error));
    };
    const request = transport.request(
      target,
      { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, ca: options.ca, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) request.destroy(new Error(`reply from ${target.host} exceeds ${MAX_REPLY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers: response.headers });
        });
        // A connection closed mid-body ends neither in 'end' nor in a request 'error': without this
        // the promise never settles and the command exits silently with nothing done.
        response.on('error', fail);
        response.on('close', () => {
          if (!response.complete) fail(new Error(`connection closed before the reply from ${target.host} was complete`));
        });
      },
    );
    // The socket timeout above only bounds an idle gap; this bounds the whole exchange.
    const deadline = setTimeout(() => request.destroy(new Error(`no complete reply from ${target.host} within ${timeoutMs} ms`)), timeoutMs);
    request.on('timeout', () => request.destroy(new Error(`request to ${target.host} timed out`)));
    request.on('error', fail);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}
