// Guest networking for local VMs.
//   tap:  a network namespace per VM (`runbox-<id>`) holding a TAP device 172.16.0.1/30; QEMU runs
//         inside it and the guest is 172.16.0.2 (Firecracker's convention). Nothing routes out of
//         the namespace: the guest reaches only the host end of its TAP. The host process reaches
//         the agent through a Unix socket that a socat inside the namespace forwards to the guest.
//   user: QEMU's user-mode network with `restrict=on` (the guest reaches nothing) and one hostfwd
//         from 127.0.0.1:<free port> to the agent.
import net from 'node:net';
import { runCommand, TOOL_TIMEOUT_MS } from '../local/command.js';
import { TAP_NET } from './bootargs.js';

export const TAP_IFNAME = 'tap0';

export function netnsName(id: string): string {
  return `runbox-${id}`;
}

/** Creates the namespace with loopback up and the TAP device addressed and up. */
export async function createTapNamespace(ns: string): Promise<void> {
  await runCommand(['ip', 'netns', 'add', ns], { timeoutMs: TOOL_TIMEOUT_MS });
  try {
    const inNs = (...argv: string[]) => runCommand(['ip', '-n', ns, ...argv], { timeoutMs: TOOL_TIMEOUT_MS });
    await inNs('link', 'set', 'lo', 'up');
    await inNs('tuntap', 'add', 'dev', TAP_IFNAME, 'mode', 'tap');
    await inNs('addr', 'add', `${TAP_NET.hostIp}/${TAP_NET.prefix}`, 'dev', TAP_IFNAME);
    await inNs('link', 'set', TAP_IFNAME, 'up');
  } catch (error) {
    await deleteNamespace(ns);
    throw error;
  }
}

/** Deleting the namespace also deletes the TAP device in it. Missing = already gone: fine. */
export async function deleteNamespace(ns: string): Promise<void> {
  try {
    await runCommand(['ip', 'netns', 'del', ns], { timeoutMs: TOOL_TIMEOUT_MS });
  } catch (error) {
    if (!/No such file|Invalid netns|not found/i.test((error as Error).message)) throw error;
  }
}

/** argv prefix that runs a command inside the namespace. */
export function inNamespace(ns: string, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** A loopback TCP port free right now (QEMU binds it a moment later; boot retries on a clash). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
