import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { buildAppFromConfig } from '../../src/api/api-from-config.ts';
import { buildConfig } from '../../src/config.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * Real sockets on loopback that send a request slowly: headers, then a body one byte at a time
 * that is never complete. Each connects from its own loopback source address (127.0.0.0/8 is all
 * local on Linux), so "one client address" and "many" can both be played from one machine.
 */
interface SlowClient {
  socket: net.Socket;
  /** What the server sent before it closed the connection. */
  received: string;
  bytesSent: number;
  closed: boolean;
}

const BODY_BYTES = 200;

function openSlowClient(port: number, localAddress: string, token: string): SlowClient {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const client: SlowClient = { socket, received: '', bytesSent: 0, closed: false };
  socket.on('connect', () => {
    socket.write(
      `POST /v1/ssh/certificates HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`,
    );
  });
  socket.on('data', (chunk) => (client.received += chunk.toString('latin1')));
  socket.on('error', () => undefined); // a reset from the server is what some tests expect
  socket.on('close', () => (client.closed = true));
  return client;
}

/** One byte to every open client, never the last one of its body. */
function dribble(clients: SlowClient[]): void {
  for (const client of clients) {
    if (client.closed || client.socket.connecting || client.bytesSent >= BODY_BYTES - 1) continue;
    client.socket.write(' ');
    client.bytesSent += 1;
  }
}

/** Dribbles until `done` holds, at most `maxTicks` times `intervalMs` apart; returns whether it held. */
async function dribbleUntil(clients: SlowClient[], done: () => boolean, maxTicks: number, intervalMs = 50): Promise<boolean> {
  for (let tick = 0; tick < maxTicks; tick++) {
    if (done()) return true;
    dribble(clients);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return done();
}

const openCount = (clients: SlowClient[]): number => clients.filter((client) => !client.closed).length;

describe('the request deadline covers the body', () => {
  let api: ApiFixture;
  let port: number;
  const clients: SlowClient[] = [];
  beforeAll(async () => {
    api = await createApiFixture({ connectionLimits: { requestTimeoutMs: 1000 } });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.socket.destroy();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers 408 ERR_REQUEST_TIMEOUT and closes a connection whose body is still arriving, writing nothing', async () => {
    const before = api.rowCounts();
    const client = openSlowClient(port, '127.0.0.1', api.tokens.alice);
    clients.push(client);
    // One byte per 100 ms: the body would be complete after about 20 s. Before the fix Node held
    // such a body for about 60-90 s (headersTimeout), so the request completed and was answered.
    const cut = await dribbleUntil([client], () => client.closed, BODY_BYTES, 100);
    expect(cut).toBe(true);
    expect(client.bytesSent).toBeLessThan(BODY_BYTES - 1);
    expect(client.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received).toContain('"code":"ERR_REQUEST_TIMEOUT"');
    expect(api.rowCounts()).toEqual(before);
  }, 60_000);

  it('closes a connection that sends nothing at all within the same deadline', async () => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const client: SlowClient = { socket, received: '', bytesSent: 0, closed: false };
    socket.on('data', (chunk) => (client.received += chunk.toString('latin1')));
    socket.on('close', () => (client.closed = true));
    clients.push(client);
    // Bounded: at most 30 s. The socket inactivity timeout alone would take 30 s; the deadline 1 s.
    expect(await dribbleUntil([], () => client.closed, 300, 100)).toBe(true);
    expect(client.received).toMatch(/^HTTP\/1\.1 408 /);
  }, 60_000);

  it("takes the limits from the config's server section, and gives a TLS handshake the same deadline", async () => {
    const dir = api.ca.dataDir;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.pem')], { stdio: 'ignore' });
    const configFile = path.join(dir, 'limits.json');
    const tls = { certFile: path.join(dir, 'tls.pem'), keyFile: path.join(dir, 'tls.key') };
    writeFileSync(configFile, JSON.stringify({ server: { requestTimeoutMs: 1000, maxConnections: 7, maxConnectionsPerAddress: 3, tls } }));
    const config = buildConfig({ configFile, dataDir: dir });
    expect(config.server).toMatchObject({ requestTimeoutMs: 1000, maxConnections: 7, maxConnectionsPerAddress: 3 });
    const app = await buildAppFromConfig(api.ca.runtime, config, false);
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      expect(app.server.maxConnections).toBe(7);
      const tlsPort = (app.server.address() as net.AddressInfo).port;
      // Five TCP connections that never start the handshake, from one address: two are over the
      // per-address cap at once, the other three are cut by the deadline (Node's default is 120 s).
      const silent = Array.from({ length: 5 }, () => {
        const client: SlowClient = { socket: net.connect({ port: tlsPort, host: '127.0.0.1', localAddress: '127.0.0.3' }), received: '', bytesSent: 0, closed: false };
        client.socket.on('error', () => undefined);
        client.socket.on('close', () => (client.closed = true));
        clients.push(client);
        return client;
      });
      expect(await dribbleUntil([], () => openCount(silent) <= 3, 100)).toBe(true);
      expect(await dribbleUntil([], () => openCount(silent) === 0, 300, 100)).toBe(true);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('connection caps', () => {
  let api: ApiFixture;
  let port: number;
  let key: TempSshKey;
  const clients: SlowClient[] = [];
  const limits = { requestTimeoutMs: 60_000, maxConnections: 256, maxConnectionsPerAddress: 128 };
  beforeAll(async () => {
    // A long deadline: the slow clients must still be connected when the legitimate request runs.
    api = await createApiFixture({ connectionLimits: limits, rateLimitPerMinute: 100_000 });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as net.AddressInfo).port;
    key = createTempSshKey('jitca-slow-clients-');
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.socket.destroy();
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  it('200 slow clients from one address hold at most maxConnectionsPerAddress, and a legitimate request is served meanwhile', async () => {
    for (let i = 0; i < 200; i++) clients.push(openSlowClient(port, '127.0.0.2', api.tokens.mallory));
    const refused = 200 - limits.maxConnectionsPerAddress;
    expect(await dribbleUntil(clients, () => clients.filter((client) => client.closed).length >= refused, 400)).toBe(true);
    const response = await fetch(`http://127.0.0.1:${port}/v1/ssh/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.tokens.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: key.publicKey, role: 'oncall-payments', ttl: '10m', reason: 'INC-42' }),
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { status: string }).status).toBe('issued');
    // They were connected the whole time, and none of them got an answer.
    expect(openCount(clients)).toBe(limits.maxConnectionsPerAddress);
    expect(clients.every((client) => client.received === '')).toBe(true);
  }, 120_000);

  it('slow clients from many addresses hold at most maxConnections', async () => {
    // The test before's clients are gone once the server saw them close; fetch's kept-alive
    // connection (if still open) counts too.
    for (let i = 0; i < 200 && (await openConnections(api)) > 1; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const room = limits.maxConnections - (await openConnections(api));
    // 10 addresses x 30: under the per-address cap, over the total.
    for (let i = 0; i < 300; i++) clients.push(openSlowClient(port, `127.0.0.${10 + (i % 10)}`, api.tokens.mallory));
    expect(await dribbleUntil(clients, () => clients.filter((client) => client.closed).length >= 300 - room, 400)).toBe(true);
    // A little longer: nothing beyond the cap is closed, nothing over it stays.
    await dribbleUntil(clients, () => false, 10);
    expect(openCount(clients)).toBe(room);
    // Once they are gone, the listener serves again.
    for (const client of clients.splice(0)) client.socket.destroy();
    for (let i = 0; i < 200 && (await openConnections(api)) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  }, 120_000);
});

function openConnections(api: ApiFixture): Promise<number> {
  return new Promise((resolve, reject) => api.app.server.getConnections((error, count) => (error === null ? resolve(count) : reject(error))));
}
