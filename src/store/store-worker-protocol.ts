import { JitcaError, type ErrorCode } from '../errors.ts';
import type { StoreStats } from './types.ts';

/** Store methods the worker serves; stats() is answered from the last reply, close() ends it. */
export const storeWorkerMethods = [
  'recordDecision',
  'appendAudit',
  'getRequest',
  'findCertificateBySerial',
  'listApprovals',
  'listAudit',
  'verifyAudit',
  'close',
] as const;

export type StoreWorkerMethod = (typeof storeWorkerMethods)[number];

export interface StoreWorkerCall {
  id: number;
  method: StoreWorkerMethod;
  args: unknown[];
}

export interface SerializedError {
  code?: ErrorCode;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export type StoreWorkerReply =
  | { id: number; ok: true; value: unknown; stats: StoreStats }
  | { id: number; ok: false; error: SerializedError; stats: StoreStats };

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
