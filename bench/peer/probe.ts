import http from 'node:http';
import https from 'node:https';

/** Whether GET `url` answers 200 within a second; `ca` verifies an https server (fetch cannot take one). */
export function answersOk(url: string, ca?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const callback = (response: http.IncomingMessage) => {
      response.resume();
      resolve(response.statusCode === 200);
    };
    const request = url.startsWith('https:') ? https.get(url, { ca, timeout: 1000 }, callback) : http.get(url, { timeout: 1000 }, callback);
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}
