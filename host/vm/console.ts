// The VM's serial console socket (QEMU chardev with the telnet protocol). Its one use here is the
// Magic SysRq key: a serial BREAK followed by a command letter, handled by the guest kernel itself,
// with no login and no agent involved (the guest must allow it: boot arg sysrq_always_enabled=1).
import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** Telnet "Interpret As Command" + "Break": QEMU turns it into a BREAK on the serial line. */
const TELNET_BREAK = Buffer.from([0xff, 0xf3]);

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends SysRq `key` (e.g. 'i': SIGKILL every process but init; 's': sync) on the serial console. */
export async function sendSysrq(consoleSocket: string, key: string): Promise<void> {
  if (!/^[a-z0-9]$/.test(key)) throw new InvalidArgumentError(`sysrq key ${JSON.stringify(key)}: expected one letter or digit`);
  const socket = net.connect(consoleSocket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('data', () => {}); // QEMU's telnet negotiation: not needed
  try {
    socket.write(TELNET_BREAK);
    // The 8250 driver arms SysRq on BREAK and takes the next character (within 5 s) as the command.
    await pause(200);
    socket.write(key);
    await pause(300);
  } finally {
    socket.destroy();
  }
}
