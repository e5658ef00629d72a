// PLACEHOLDER (VM engineer replaces this file): Firecracker hybrid-vsock proxy.
import { SandboxUnavailableError } from './errors.js';

export interface VsockProxy {
  /** A local Unix socket path; each connection to it is bridged to the guest's vsock port. */
  readonly socketPath: string;
  close(): Promise<void>;
}

export interface VsockProxyOptions {
  /** How long one connection keeps retrying a guest that has no listener yet (default 5000). */
  connectTimeoutMs?: number;
}

export async function startVsockProxy(_udsPath: string, _port: number, _options: VsockProxyOptions = {}): Promise<VsockProxy> {
  throw new SandboxUnavailableError('vsock targets are not implemented yet');
}
