import { JitcaError, type ErrorCode } from '../errors.ts';
import type { StoreWorkerMethod } from './store-methods.ts';
import type { Store, StoreStats } from './types.ts';

/** One call of a Store method on the store thread (store-methods.ts lists which cross). */
export type StoreWorkerCall = {
  [M in StoreWorkerMethod]: { id: number; method: M; args: Parameters<Store[M]> };
}[StoreWorkerMethod];

export interface SerializedError {
  code?: ErrorCode;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export type StoreWorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

/**
 * Messages carry every call (or reply) made in one turn of the sender's event loop: a message
 * costs a fixed amount of CPU on both threads (a wake-up, an event dispatch) on top of cloning
 * its content, and a batch of concurrent calls commits as one batch anyway. Batching never holds
 * anything back: the sender flushes at the end of the turn that produced the calls or replies
 * (queueMicrotask), so a reply still leaves right after the COMMIT it reports.
 */
export type StoreWorkerCallMessage = StoreWorkerCall[];

export interface StoreWorkerReplyMessage {
  replies: StoreWorkerReply[];
  /** The store's counters when the replies were sent. */
  stats: StoreStats;
}

/** Structured clone drops an Error's own fields; codes must survive the thread boundary. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof JitcaError) {
    return { code: error.code, message: error.message, retryable: error.retryable, details: error.details };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.code === undefined) return new Error(error.message);
  return new JitcaError(error.code, error.message, { retryable: error.retryable, details: error.details });
}
