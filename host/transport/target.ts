// Parses the targets a Sandbox connects to:
//   tcp://HOST:PORT           the agent over TCP (a VM's TAP address, or a local agent)
//   unix:///PATH              the agent's Unix socket
//   vsock:///UDS_PATH:PORT    Firecracker hybrid vsock: the VM's vsock Unix socket and the guest port
import { InvalidArgumentError } from '../errors.js';

/** A parsed target: what `Sandbox.connect` dials. */
export type Target =
  { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string } | { kind: 'vsock'; path: string; port: number };

const EXAMPLES = "use tcp://HOST:PORT, unix:///PATH or vsock:///PATH:PORT (e.g. 'tcp://172.16.0.2:5000')";

/**
 * Parses `tcp://HOST:PORT` (IPv6 in brackets), `unix:///PATH` or `vsock:///UDS_PATH:PORT`.
 * @throws InvalidArgumentError naming the target and the accepted forms.
 */
export function parseTarget(target: string): Target {
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})$/.exec(target);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new InvalidArgumentError(`target ${target}: port must be 1-65535`);
    return { kind: 'tcp', host: tcp[1]!, port };
  }
  const unix = /^unix:\/\/(\/.+)$/.exec(target);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const vsock = /^vsock:\/\/(\/.+):(\d{1,10})$/.exec(target);
  if (vsock) {
    const port = Number(vsock[2]);
    if (port > 0xffffffff) throw new InvalidArgumentError(`target ${target}: vsock port must fit in 32 bits`);
    return { kind: 'vsock', path: vsock[1]!, port };
  }
  throw new InvalidArgumentError(`target ${JSON.stringify(target)} is not understood: ${EXAMPLES}`);
}

/** The target back in URL form, as parseTarget accepts it. */
export function formatTarget(target: Target): string {
  switch (target.kind) {
    case 'tcp':
      return `tcp://${target.host}:${target.port}`;
    case 'unix':
      return `unix://${target.path}`;
    case 'vsock':
      return `vsock://${target.path}:${target.port}`;
  }
}
