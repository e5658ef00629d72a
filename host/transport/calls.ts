// Cancelling calls: from an AbortSignal, and around a grpc-js quirk that loses a cancel.
import { AbortError } from '../errors.js';

/** Throws AbortError if the signal already fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what}: aborted before it started`, { reason: 'ABORTED' });
}

/**
 * Cancels a call on the next turn of the event loop. grpc-js (1.14) loses a cancel issued
 * in the same tick as the call's first write: the message still reaches the agent but the
 * RST_STREAM never does, so the agent would run the work to its end. Deferring fixes it.
 */
export function cancelCall(call: { cancel(): void }): void {
  setImmediate(() => call.cancel());
}

/** Cancels `call` when `signal` fires; returns a function that detaches the listener. */
export function cancelOnAbort(signal: AbortSignal | undefined, call: { cancel(): void }): () => void {
  if (!signal) return () => {};
  const onAbort = () => cancelCall(call);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
