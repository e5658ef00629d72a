// The file worker: a child process running as the run-as user, so the kernel checks every
// file operation against that user's permissions (the agent itself is root). The agent starts
// it with `node -e "(<this function's source>)()"`: this function must not reference anything
// outside its own body (imports, module constants), and frame kinds repeat agent/files/protocol.ts.
export function fileWorkerMain(): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const fsp = require('node:fs/promises') as typeof import('node:fs/promises');
  const nodePath = require('node:path') as typeof import('node:path');

  const K = { call: 1, data: 2, end: 3, abort: 4, credit: 5, ok: 16, fail: 17, rdata: 18, ack: 19, eof: 20, ready: 21 };
  const CHUNK = 256 * 1024;
  const MAX_ENTRIES = 100_000;

  function send(id: number, kind: number, payload?: Buffer): void {
    const header = Buffer.allocUnsafe(9);
    header.writeUInt32BE(5 + (payload ? payload.length : 0), 0);
    header.writeUInt32BE(id, 4);
    header.writeUInt8(kind, 8);
    process.stdout.write(payload && payload.length ? Buffer.concat([header, payload]) : header);
  }
  const sendJson = (id: number, kind: number, value: unknown) => send(id, kind, Buffer.from(JSON.stringify(value)));
  const fail = (id: number, error: any) =>
    sendJson(id, K.fail, { code: String(error?.code ?? 'EIO'), syscall: String(error?.syscall ?? ''), message: String(error?.message ?? error) });

  function typeOf(st: import('node:fs').Stats): string {
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  }
  function info(path: string, st: import('node:fs').Stats, target = '') {
    return {
      path,
      name: nodePath.basename(path) || path,
      type: typeOf(st),
      size: st.size,
      mode: st.mode & 0o7777,
      mtimeMs: Math.floor(st.mtimeMs),
      uid: st.uid,
      target,
    };
  }
  async function describe(path: string) {
    const st = await fsp.lstat(path);
    return info(path, st, st.isSymbolicLink() ? await fsp.readlink(path).catch(() => '') : '');
  }

  // Ops that stream keep their state here, keyed by op id.
  interface ReadOp { kind: 'read'; fd: number; credit: number; busy: boolean; done: boolean }
  interface WriteOp { kind: 'write'; fd: number; queue: Buffer[]; busy: boolean; ended: boolean; done: boolean; path: string }
  const ops = new Map<number, ReadOp | WriteOp>();

  function finishOp(id: number): void {
    const op = ops.get(id);
    if (!op || op.done) return;
    op.done = true;
    ops.delete(id);
    fs.close(op.fd, () => {});
  }

  function pumpRead(id: number, op: ReadOp): void {
    if (op.busy || op.done || op.credit <= 0) return;
    op.busy = true;
    const buffer = Buffer.allocUnsafe(CHUNK);
    fs.read(op.fd, buffer, 0, CHUNK, null, (error, n) => {
      op.busy = false;
      if (op.done) return;
      if (error) {
        finishOp(id);
        return fail(id, error);
      }
      if (n === 0) {
        finishOp(id);
        return send(id, K.eof);
      }
      op.credit--;
      send(id, K.rdata, buffer.subarray(0, n));
      pumpRead(id, op);
    });
  }

  function pumpWrite(id: number, op: WriteOp): void {
    if (op.busy || op.done) return;
    const chunk = op.queue.shift();
    if (!chunk) {
      if (!op.ended) return;
      op.busy = true;
      fs.fstat(op.fd, (error, st) => {
        op.busy = false;
        const fd = op.fd;
        op.done = true;
        ops.delete(id);
        fs.close(fd, (closeError) => {
          if (error || closeError) return fail(id, error || closeError);
          sendJson(id, K.ok, info(op.path, st));
        });
      });
      return;
    }
    op.busy = true;
    writeFully(op.fd, chunk, 0, (error) => {
      op.busy = false;
      if (op.done) return;
      if (error) {
        finishOp(id);
        return fail(id, error);
      }
      const ack = Buffer.allocUnsafe(4);
      ack.writeUInt32BE(chunk.length, 0);
      send(id, K.ack, ack);
      pumpWrite(id, op);
    });
  }

  function writeFully(fd: number, chunk: Buffer, offset: number, done: (error: Error | null) => void): void {
    fs.write(fd, chunk, offset, chunk.length - offset, null, (error, n) => {
      if (error) return done(error);
      if (offset + n < chunk.length) return writeFully(fd, chunk, offset + n, done);
      done(null);
    });
  }

  function openAsync(path: string, flags: number, mode?: number): Promise<number> {
    return new Promise((resolve, reject) => fs.open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
  }
  const fstatAsync = (fd: number) =>
    new Promise<import('node:fs').Stats>((resolve, reject) => fs.fstat(fd, (error, st) => (error ? reject(error) : resolve(st))));

  // O_NONBLOCK: opening a FIFO must never hang the worker (it serves every op); for regular
  // files and devices it changes nothing that matters here. FIFOs and sockets are refused.
  const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NONBLOCK } = fs.constants;
  async function openChecked(path: string, flags: number, mode?: number): Promise<{ fd: number; st: import('node:fs').Stats }> {
    const fd = await openAsync(path, flags | O_NONBLOCK, mode);
    const st = await fstatAsync(fd);
    if (st.isFIFO() || st.isSocket() || st.isDirectory()) {
      fs.close(fd, () => {});
      const error: any = new Error('not a regular file');
      error.code = st.isDirectory() ? 'EISDIR' : 'ENOTREG';
      throw error;
    }
    return { fd, st };
  }

  async function openForWrite(a: any): Promise<number> {
    if (a.createParents) await fsp.mkdir(nodePath.dirname(a.path), { recursive: true, mode: 0o755 });
    const mode = a.mode || 0o644;
    try {
      const { fd } = await openChecked(a.path, O_WRONLY | O_CREAT | O_EXCL, mode);
      fs.fchmodSync(fd, mode); // exact bits, whatever the umask
      return fd;
    } catch (error: any) {
      if (error?.code !== 'EEXIST' || a.noOverwrite) throw error;
    }
    return (await openChecked(a.path, O_WRONLY | O_TRUNC)).fd;
  }

  async function call(id: number, a: any): Promise<void> {
    switch (a.op) {
      case 'stat':
        return sendJson(id, K.ok, await describe(a.path));
      case 'list': {
        const dir = await fsp.opendir(a.path);
        const entries = [];
        for await (const entry of dir) {
          if (entries.length >= MAX_ENTRIES) {
            const error: any = new Error(`more than ${MAX_ENTRIES} entries`);
            error.code = 'E2BIG';
            throw error;
          }
          const full = nodePath.join(a.path, entry.name);
          // An entry removed while we list it is simply not listed.
          const described = await describe(full).catch(() => undefined);
          if (described) entries.push(described);
        }
        entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
        return sendJson(id, K.ok, entries);
      }
      case 'remove': {
        const st = await fsp.lstat(a.path);
        if (st.isDirectory()) {
          if (a.recursive) await fsp.rm(a.path, { recursive: true });
          else await fsp.rmdir(a.path);
        } else await fsp.unlink(a.path);
        return sendJson(id, K.ok, {});
      }
      case 'mkdir': {
        const mode = a.mode || 0o755;
        const created = await fsp.mkdir(a.path, { recursive: Boolean(a.parents), mode });
        // recursive mkdir returns the first directory it made, undefined when it existed.
        if (!a.parents || created !== undefined) await fsp.chmod(a.path, mode);
        const st = await fsp.stat(a.path);
        if (!st.isDirectory()) {
          const error: any = new Error('exists and is not a directory');
          error.code = 'EEXIST';
          throw error;
        }
        return sendJson(id, K.ok, info(a.path, st));
      }
      case 'read': {
        const { fd, st } = await openChecked(a.path, O_RDONLY);
        const op: ReadOp = { kind: 'read', fd, credit: Number(a.credit) || 1, busy: false, done: false };
        ops.set(id, op);
        sendJson(id, K.ready, info(a.path, st));
        return pumpRead(id, op);
      }
      case 'write': {
        const fd = await openForWrite(a);
        ops.set(id, { kind: 'write', fd, queue: [], busy: false, ended: false, done: false, path: a.path });
        return send(id, K.ready);
      }
      default:
        throw new Error(`unknown op ${a.op}`);
    }
  }

  function onFrame(id: number, kind: number, payload: Buffer): void {
    const op = ops.get(id);
    if (kind === K.call) {
      call(id, JSON.parse(payload.toString('utf8'))).catch((error) => fail(id, error));
    } else if (kind === K.data && op?.kind === 'write') {
      op.queue.push(payload);
      pumpWrite(id, op);
    } else if (kind === K.end && op?.kind === 'write') {
      op.ended = true;
      pumpWrite(id, op);
    } else if (kind === K.credit && op?.kind === 'read') {
      op.credit += payload.readUInt32BE(0);
      pumpRead(id, op);
    } else if (kind === K.abort && op) {
      finishOp(id);
    }
  }

  let pending: Buffer = Buffer.alloc(0);
  process.stdin.on('data', (chunk: Buffer) => {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (buf.length >= 4) {
      const total = 4 + buf.readUInt32BE(0);
      if (buf.length < total) break;
      onFrame(buf.readUInt32BE(4), buf.readUInt8(8), buf.subarray(9, total));
      buf = buf.subarray(total);
    }
    // Copy the remainder so a small tail does not pin a large chunk.
    pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  });
  // The agent went away: nothing to serve.
  process.stdin.on('end', () => process.exit(0));
}
