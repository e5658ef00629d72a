// Small assertions shared by the test files.
import type { RunboxError } from '../../host/index.js';

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown>): Promise<RunboxError> {
  try {
    await promise;
  } catch (error) {
    return error as RunboxError;
  }
  throw new Error('expected the call to fail');
}
