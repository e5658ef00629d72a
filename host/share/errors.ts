// What a registry refused or failed at, with its own error code when it sent one.
import { RunboxError, type ErrorCode } from '../errors.js';

/** A registry answered with an error, broke off a transfer, or sent content that does not match its digest. */
export class RegistryError extends RunboxError {
  static override readonly code: ErrorCode = 'registry_failed';
}
