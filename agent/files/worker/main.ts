// The file worker: a child process running as the run-as user, so the kernel checks every
// file operation against that user's permissions (the agent itself is root). Built as its own
// esbuild entry (dist/agent/file-worker.js); the agent starts it with `node -e <that file>`,
// since the directory the agent is installed in need not be readable by the run-as user.
import fs, { type Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import {
  CHUNK_BYTES,
  FROM_WORKER,
  FrameError,
  FrameReader,
  LIST_PAGE_BYTES,
  TO_WORKER,
  WORKER_IDENTITY_VARIABLE,
  frame,
  jsonFrame,
  type WorkerFileInfo,
  type WorkerListPage,
} from '../protocol.js';
import { decodeName } from '../names.js';

/** Names a directory may hold before ListDir refuses it (they are sorted in memory). */
const MAX_ENTRIES = 1_000_000;
const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

interface Arguments {
  op: string;
  path: string;
  credit?: number;
  recursive?: boolean;
  parents?: boolean;
  mode?: number;
  createParents?: boolean;
  noOverwrite?: boolean;
  pageSize?: number;
  /** ListDir: list the names after this one (base64url of its bytes: the page token). */
  after?: string;
}

interface ReadOp {
  kind: 'read';
  fd: number;
  credit: number;
  busy: boolean;
  done: boolean;
}
interface WriteOp {
  kind: 'write';
  fd: number;
  queue: Buffer[];
  busy: boolean;
  ended: boolean;
  done: boolean;
  path: string;
  /** setuid/setgid/sticky bits a new file asked for: applied after the data (see closeWrite). */
  specialBits: number;
}

/** Streaming ops keep their state here, keyed by op id. */
const ops = new Map<number, ReadOp | WriteOp>();

const send = (id: number, kind: number, payload?: Buffer) => process.stdout.write(frame(id, kind, payload));
const sendJson = (id: number, kind: number, value: unknown) => process.stdout.write(jsonFrame(id, kind, value));

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

function fail(id: number, error: unknown): void {
  const e = error as Partial<NodeJS.ErrnoException> | undefined;
  sendJson(id, FROM_WORKER.fail, {
    code: String(e?.code ?? 'EIO'),
    syscall: String(e?.syscall ?? ''),
    message: String(e?.message ?? error),
  });
}

function typeOf(st: Stats): WorkerFileInfo['type'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
}

function info(path: string, st: Stats, target = ''): WorkerFileInfo {
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

/** `path` (for the answer) described through `fsPath`, which may hold bytes a string cannot. */
async function describe(path: string, fsPath: string | Buffer = path): Promise<WorkerFileInfo> {
  const st = await fsp.lstat(fsPath);
  const target = st.isSymbolicLink() ? await fsp.readlink(fsPath, { encoding: 'buffer' }).catch(() => undefined) : undefined;
  return info(path, st, target === undefined ? '' : decodeName(target).text);
}

/**
 * Entry `name` of directory `dir`, reached by its exact bytes: a name that is not UTF-8 would
 * not survive a string (it decodes lossily, names no file, and the entry went missing). The
 * bytes are appended to `dir` as given, not joined: joining folds `..` lexically, which is not
 * where the kernel went for readdir when a component is a symlink.
 */
async function describeEntry(dir: string, name: Buffer): Promise<WorkerFileInfo> {
  const { text, valid } = decodeName(name);
  const fsPath = Buffer.concat([Buffer.from(dir.endsWith('/') ? dir : `${dir}/`), name]);
  const described = await describe(nodePath.join(dir, text), fsPath);
  return valid ? { ...described, name: text } : { ...described, name: text, rawName: name.toString('base64') };
}

/** About what an entry costs in the protobuf response (and the page's JSON): its strings plus the fixed fields. */
const entryBytes = (e: WorkerFileInfo) =>
  Buffer.byteLength(e.path) + Buffer.byteLength(e.name) + Buffer.byteLength(e.target) + (e.rawName?.length ?? 0) + 64;

/** One page of a directory in byte order of the names, after the name `after`, bounded in count and bytes. */
async function listPage(a: Arguments): Promise<WorkerListPage> {
  // Names as latin1 strings: one character per byte, so they keep their exact bytes (a UTF-8
  // decode would not), and the native string sort and `>` order them bytewise, about 5x
  // faster than Buffer.compare over a million names.
  const names = await fsp.readdir(a.path, { encoding: 'latin1' });
  if (names.length > MAX_ENTRIES) throw errnoError('E2BIG', `more than ${MAX_ENTRIES} entries`);
  names.sort();
  const pageSize = Math.min(a.pageSize || DEFAULT_PAGE, MAX_PAGE);
  const after = a.after === undefined ? undefined : Buffer.from(a.after, 'base64url').toString('latin1');
  let i = after === undefined ? 0 : names.findIndex((name) => name > after);
  if (i === -1) i = names.length;
  const entries: WorkerFileInfo[] = [];
  let bytes = 0;
  for (; i < names.length && entries.length < pageSize && bytes < LIST_PAGE_BYTES; i++) {
    // An entry removed while we list it is simply not listed.
    const described = await describeEntry(a.path, Buffer.from(names[i]!, 'latin1')).catch(() => undefined);
    if (described === undefined) continue;
    entries.push(described);
    bytes += entryBytes(described);
  }
  return i < names.length ? { entries, next: Buffer.from(names[i - 1]!, 'latin1').toString('base64url') } : { entries };
}

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
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  fs.read(op.fd, buffer, 0, CHUNK_BYTES, null, (error, n) => {
    op.busy = false;
    if (op.done) return;
    if (error) {
      finishOp(id);
      return fail(id, error);
    }
    if (n === 0) {
      finishOp(id);
      return send(id, FROM_WORKER.eof);
    }
    op.credit--;
    send(id, FROM_WORKER.data, buffer.subarray(0, n));
    pumpRead(id, op);
  });
}

function closeWrite(id: number, op: WriteOp): void {
  op.busy = true;
  // The kernel clears setuid/setgid when an unprivileged process writes to a file, so those
  // bits go on last; the answer reports the mode the file really has.
  if (op.specialBits !== 0) {
    try {
      fs.fchmodSync(op.fd, (fs.fstatSync(op.fd).mode & 0o777) | op.specialBits);
    } catch {
      // not permitted: the reported mode shows they are not there
    }
  }
  fs.fstat(op.fd, (error, st) => {
    op.busy = false;
    op.done = true;
    ops.delete(id);
    fs.close(op.fd, (closeError) => {
      if (error || closeError) return fail(id, error || closeError);
      sendJson(id, FROM_WORKER.ok, info(op.path, st));
    });
  });
}

function pumpWrite(id: number, op: WriteOp): void {
  if (op.busy || op.done) return;
  const chunk = op.queue.shift();
  if (!chunk) {
    if (op.ended) closeWrite(id, op);
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
    send(id, FROM_WORKER.ack, ack);
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

// O_NONBLOCK: opening a FIFO must never hang the worker (it serves every op); for regular
// files and devices it changes nothing that matters here. FIFOs and sockets are refused.
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NONBLOCK } = fs.constants;

function openFd(path: string, flags: number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (error, st) => (error ? reject(error) : resolve(st))));
}

// Raw fds, not FileHandles: a streaming op keeps its fd across callbacks and closes it itself
// (a FileHandle that is collected would close it under the op). Reads take regular files
// only: a device (/dev/zero, /dev/urandom) is endless, and a file is what ReadFile promises.
// Writes may go to a device (/dev/null, /dev/full).
async function openChecked(path: string, flags: number, mode?: number): Promise<{ fd: number; st: Stats }> {
  const fd = await openFd(path, flags | O_NONBLOCK, mode);
  const st = await fstatFd(fd);
  const reading = (flags & (O_WRONLY | fs.constants.O_RDWR)) === 0;
  if (st.isFIFO() || st.isSocket() || st.isDirectory() || (reading && (st.isCharacterDevice() || st.isBlockDevice()))) {
    fs.close(fd, () => {});
    throw errnoError(st.isDirectory() ? 'EISDIR' : 'ENOTREG', 'not a regular file');
  }
  return { fd, st };
}

/** The open fd, and the special mode bits still to apply (new files only). */
async function openForWrite(a: Arguments): Promise<{ fd: number; specialBits: number }> {
  if (a.createParents) await fsp.mkdir(nodePath.dirname(a.path), { recursive: true, mode: 0o755 });
  const mode = a.mode || 0o644;
  try {
    const { fd } = await openChecked(a.path, O_WRONLY | O_CREAT | O_EXCL, mode);
    fs.fchmodSync(fd, mode & 0o777); // exact bits, whatever the umask
    return { fd, specialBits: mode & 0o7000 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || a.noOverwrite) throw error;
  }
  return { fd: (await openChecked(a.path, O_WRONLY | O_TRUNC)).fd, specialBits: 0 };
}

async function remove(a: Arguments): Promise<void> {
  const st = await fsp.lstat(a.path);
  if (!st.isDirectory()) await fsp.unlink(a.path);
  else if (a.recursive) await fsp.rm(a.path, { recursive: true });
  else await fsp.rmdir(a.path);
}

async function makeDir(a: Arguments): Promise<WorkerFileInfo> {
  const mode = a.mode || 0o755;
  const created = await fsp.mkdir(a.path, { recursive: Boolean(a.parents), mode });
  // recursive mkdir returns the first directory it made, undefined when it existed.
  if (!a.parents || created !== undefined) await fsp.chmod(a.path, mode);
  const st = await fsp.stat(a.path);
  if (!st.isDirectory()) throw errnoError('EEXIST', 'exists and is not a directory');
  return info(a.path, st);
}

async function call(id: number, a: Arguments): Promise<void> {
  switch (a.op) {
    case 'stat':
      return void sendJson(id, FROM_WORKER.ok, await describe(a.path));
    case 'list':
      return void sendJson(id, FROM_WORKER.ok, await listPage(a));
    case 'remove':
      await remove(a);
      return void sendJson(id, FROM_WORKER.ok, {});
    case 'mkdir':
      return void sendJson(id, FROM_WORKER.ok, await makeDir(a));
    case 'read': {
      const { fd, st } = await openChecked(a.path, O_RDONLY);
      const op: ReadOp = { kind: 'read', fd, credit: Number(a.credit) || 1, busy: false, done: false };
      ops.set(id, op);
      sendJson(id, FROM_WORKER.ready, info(a.path, st));
      return pumpRead(id, op);
    }
    case 'write': {
      const { fd, specialBits } = await openForWrite(a);
      ops.set(id, { kind: 'write', fd, specialBits, queue: [], busy: false, ended: false, done: false, path: a.path });
      return void send(id, FROM_WORKER.ready);
    }
    default:
      throw new Error(`unknown op ${a.op}`);
  }
}

function onFrame(id: number, kind: number, payload: Buffer): void {
  const op = ops.get(id);
  if (kind === TO_WORKER.call) {
    call(id, JSON.parse(payload.toString('utf8')) as Arguments).catch((error: unknown) => fail(id, error));
  } else if (kind === TO_WORKER.data && op?.kind === 'write') {
    op.queue.push(payload);
    pumpWrite(id, op);
  } else if (kind === TO_WORKER.end && op?.kind === 'write') {
    op.ended = true;
    pumpWrite(id, op);
  } else if (kind === TO_WORKER.credit && op?.kind === 'read') {
    op.credit += payload.readUInt32BE(0);
    pumpRead(id, op);
  } else if (kind === TO_WORKER.abort && op) {
    finishOp(id);
  }
}

/**
 * Takes the user's identity as effective ids only: file operations are checked as the user
 * (fsuid follows euid), while the real and saved uid stay root, so the user's processes may not
 * signal or ptrace this one and /proc/<pid>/fd is closed to them (a changed euid also makes
 * the process non-dumpable). Supplementary groups: only the user's primary group.
 */
function becomeUser(): void {
  const identity = process.env[WORKER_IDENTITY_VARIABLE];
  delete process.env[WORKER_IDENTITY_VARIABLE];
  if (identity === undefined) return;
  const [uid, gid] = identity.split(':').map(Number) as [number, number];
  process.setgroups!([gid]);
  process.setegid!(gid);
  process.seteuid!(uid);
}

becomeUser();
const reader = FrameReader.toWorker(onFrame);
process.stdin.on('data', (chunk: Buffer) => {
  try {
    reader.push(chunk);
  } catch (error) {
    // Only the agent writes here; a bad frame means the pipe is not what it should be.
    process.stderr.write(`file worker: ${error instanceof FrameError ? 'bad frame' : 'failed'}: ${(error as Error).message}\n`);
    process.exit(3);
  }
});
// The agent went away: nothing to serve.
process.stdin.on('end', () => process.exit(0));
