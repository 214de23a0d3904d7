import http from 'node:http';
import https from 'node:https';

export interface WebhookPostLimits {
  /** The whole exchange: connect, send, status and the answer read. */
  timeoutMs: number;
  /** Most bytes of the answer read; a longer one is cut off (and the delivery still judged by its status). */
  maxResponseBytes: number;
}

export type WebhookPostResult = { ok: true; status: number } | { ok: false; error: string };

/**
 * One POST. Success is a 2xx status; anything else (another status, a redirect, which is never
 * followed, a timeout, a refused connection) is a failure described without the URL (a Slack
 * webhook's path is its credential). Node's http client follows no redirect by itself.
 */
export function postWebhook(url: URL, body: string, headers: Record<string, string>, limits: WebhookPostLimits): Promise<WebhookPostResult> {
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (result: WebhookPostResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'jitca-notify', ...headers },
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish({ ok: false, error: `no answer within ${limits.timeoutMs} ms` });
    }, limits.timeoutMs);
    timer.unref();
    request.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: `request failed: ${error.code ?? error.message}` }));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // The answer is not used; reading a bounded part of it only lets the connection end cleanly.
        if (read > limits.maxResponseBytes) response.destroy();
      });
      const judge = (): void => {
        if (status >= 200 && status < 300) finish({ ok: true, status });
        else if (status >= 300 && status < 400) finish({ ok: false, error: `answered ${status}: redirects are not followed` });
        else finish({ ok: false, error: `answered ${status}` });
      };
      response.on('end', judge);
      response.on('close', judge);
      response.on('error', judge);
    });
    request.end(body);
  });
}
