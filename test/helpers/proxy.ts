// A TCP proxy in front of an agent whose connections a test can cut, to play a flaky link
// (closing an SDK channel does not end its in-flight streams; a cut socket does).
import net from 'node:net';

export interface CuttableLink {
  target: string;
  /** Destroys every connection through the link (new ones are still accepted). */
  cut(): void;
  close(): Promise<void>;
}

export async function cuttableLink(agentTcpTarget: string): Promise<CuttableLink> {
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(agentTcpTarget)!;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    target: `tcp://127.0.0.1:${address.port}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
