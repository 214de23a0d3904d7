import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCodes } from '../errors.ts';

/**
 * How long a request may take to arrive and how many connections the API holds open: what keeps
 * clients that send slowly (or not at all) from holding the listener.
 */
export interface ConnectionLimits {
  /** The whole request, headers and body, must have arrived within this many ms of its first byte. */
  requestTimeoutMs: number;
  /** Open connections in total; more are closed as they are accepted. */
  maxConnections: number;
  /** Open connections from one client address (behind a proxy every client has the proxy's). */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  requestTimeoutMs: 10_000,
  maxConnections: 512,
  maxConnectionsPerAddress: 128,
};

/**
 * Node checks the request deadline only on a timer (connectionsCheckingInterval, 30 s by default),
 * so a deadline of 10 s was enforced somewhere between 10 and 40 s; a tenth of the deadline
 * (at most 1 s) keeps the overshoot small at the cost of one walk over the open connections.
 */
export function connectionsCheckingIntervalMs(requestTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 10)));
}

/**
 * Applies the limits to the server before it listens.
 *
 * The deadline: fastify assigns server.requestTimeout after creating the server, so Node's own
 * check that headersTimeout <= requestTimeout never ran and headersTimeout stayed at Node's
 * default of 60 s. Node then let a request whose headers had arrived keep sending its body until
 * that 60 s passed (plus up to one 30 s check interval: the 64 s measured), not the 10 s
 * configured. Setting both to the same deadline makes it cover headers and body alike; a
 * connection that sends nothing at all is cut by the same clock, which starts when it connects.
 */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.requestTimeoutMs;
  // Read by Node when the server starts listening (setupConnectionsTracking); @types/node lacks it.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = connectionsCheckingIntervalMs(limits.requestTimeoutMs);
  // Node closes a connection accepted beyond this before any byte of it is read.
  server.maxConnections = limits.maxConnections;
  limitConnectionsPerAddress(server, limits.maxConnectionsPerAddress);
}

/**
 * Counts open connections by remote address and closes one that would exceed the limit as soon
 * as it is accepted (for TLS, before the handshake: 'connection' carries the TCP socket).
 */
function limitConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = clientAddress(socket);
    if (address === undefined) return; // already closed: nothing to count
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** An IPv4 client reaching a dual-stack listener shows as ::ffff:a.b.c.d: one client, one count. */
function clientAddress(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith('::ffff:') === true && address.includes('.') ? address.slice(7) : address;
}

/**
 * Node's answers to a request that never arrived whole (deadline passed, malformed or oversized
 * headers) come from the server's 'clientError' event, outside fastify's error handler: the same
 * body shape and stable codes as every other refusal, then the connection is closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', ErrorCodes.REQUEST_TIMEOUT, 'the request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', ErrorCodes.INPUT_TOO_LARGE, 'request headers are too large']
        : [400, 'Bad Request', ErrorCodes.REQUEST_INVALID, 'malformed HTTP request'];
  const body = JSON.stringify({ code, message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
