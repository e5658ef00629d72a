// PtyInput against a fake pty master: order and every byte kept through partial writes and
// EAGAIN, write() false above the bound and onResume once the backlog is down, nothing written
// after the master closed, and a back-off (not a busy loop) while the program does not read.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PtyInput, type PtyMaster } from '../../agent/shell/input.js';

/** A pty that takes at most `room` bytes until the program reads them (`read()`). */
function fakeMaster(room: number) {
  const taken: number[] = [];
  let free = room;
  let closed = false;
  let error: string | undefined;
  const state = {
    attempts: 0,
    taken,
    read() {
      free = room;
    },
    close() {
      closed = true;
    },
    fail(code: string) {
      error = code;
    },
    master: {
      write(data, offset, length) {
        state.attempts++;
        if (error) throw Object.assign(new Error(error), { code: error });
        if (free === 0) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
        const n = Math.min(free, length);
        free -= n;
        taken.push(...data.subarray(offset, offset + n));
        return n;
      },
      closed: () => closed,
    } satisfies PtyMaster,
  };
  return state;
}

const bytes = (from: number, length: number) => Uint8Array.from({ length }, (_, i) => (from + i) % 251);

describe('PtyInput', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hands everything over at once while the pty takes it', () => {
    const pty = fakeMaster(1 << 20);
    const input = new PtyInput(pty.master, () => undefined, 100, 50);
    expect(input.write(bytes(0, 70))).toBe(true);
    expect(input.write(bytes(70, 70))).toBe(true);
    expect(pty.taken).toEqual([...bytes(0, 140)]);
    expect(input.pending).toBe(0);
  });

  it('keeps what the pty cannot take, in order; false above the bound; onResume once drained to half', () => {
    const pty = fakeMaster(30);
    const onResume = vi.fn();
    const input = new PtyInput(pty.master, onResume, 100, 50);
    expect(input.write(bytes(0, 60))).toBe(true); // 30 taken, 30 wait
    expect(input.pending).toBe(30);
    expect(input.write(bytes(60, 60))).toBe(true); // 90 wait: at most the bound
    expect(input.write(bytes(120, 20))).toBe(false); // 110 wait
    expect(input.pending).toBe(110);
    vi.advanceTimersByTime(10_000);
    expect(pty.taken.length).toBe(30); // the program does not read: nothing moves
    expect(onResume).not.toHaveBeenCalled();
    for (let turn = 0; turn < 5; turn++) {
      pty.read();
      vi.advanceTimersByTime(50);
    }
    expect(pty.taken).toEqual([...bytes(0, 140)]);
    expect(input.pending).toBe(0);
    expect(onResume).toHaveBeenCalledTimes(1);
  });

  it('a write while a retry is due goes behind the waiting bytes, never ahead of them', () => {
    const pty = fakeMaster(10);
    const input = new PtyInput(pty.master, () => undefined, 100, 50);
    input.write(bytes(0, 20)); // 10 taken, EAGAIN, retry scheduled
    pty.read(); // room again, but the retry has not run yet
    input.write(bytes(20, 5));
    expect(pty.taken).toEqual([...bytes(0, 10)]);
    for (let turn = 0; turn < 3; turn++) {
      vi.advanceTimersByTime(50);
      pty.read();
    }
    expect(pty.taken).toEqual([...bytes(0, 25)]);
  });

  it('backs off while the program does not read: a few quick retries, then at most 20 a second', () => {
    const pty = fakeMaster(0);
    const input = new PtyInput(pty.master, () => undefined, 100, 50);
    input.write(bytes(0, 10));
    vi.advanceTimersByTime(10_000);
    expect(pty.attempts).toBeLessThan(16 + 10 + 10_000 / 50 + 2);
    expect(input.pending).toBe(10);
  });

  it('writes nothing once the master is closed (its fd number may be reused); a paused stream is released', () => {
    const pty = fakeMaster(10);
    const onResume = vi.fn();
    const input = new PtyInput(pty.master, onResume, 100, 50);
    expect(input.write(bytes(0, 200))).toBe(false);
    const attempts = pty.attempts;
    pty.close();
    vi.advanceTimersByTime(1_000);
    expect(pty.attempts).toBe(attempts);
    expect(input.pending).toBe(0);
    expect(onResume).toHaveBeenCalledTimes(1);
    expect(input.write(bytes(0, 10))).toBe(true);
    expect(pty.attempts).toBe(attempts);
  });

  it('EIO (nobody holds the terminal any more) drops what waits and releases the stream', () => {
    const pty = fakeMaster(10);
    const onResume = vi.fn();
    const input = new PtyInput(pty.master, onResume, 100, 50);
    expect(input.write(bytes(0, 200))).toBe(false);
    pty.fail('EIO');
    pty.read();
    vi.advanceTimersByTime(1_000);
    expect(input.pending).toBe(0);
    expect(onResume).toHaveBeenCalledTimes(1);
  });
});
