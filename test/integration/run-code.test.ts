// RunCode against the real built agent: every language this machine has, over the Unix
// socket and TCP, compile stages and their cache, output encoding, identity, bad requests,
// and `runbox run`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Sandbox, type Language, type RunResult } from '../../host/index.js';
import { runboxUserExists, type RunningAgent, useAgent } from '../helpers/agent.js';
import { IN_CI, requireInCi } from '../helpers/required.js';
import { cli, SHARED_CACHE } from '../helpers/run.js';
import { CompileCache } from '../../agent/process/cache.js';

/** Per language: a program that echoes stdin upper-cased, its args and $GREETING, writes to stderr, exits 3. */
const PROGRAMS: Record<string, string> = {
  bash: 'read -r line; echo "out:${line^^}:$*:$GREETING"; echo "err:bash" >&2; exit 3',
  sh: 'read -r line; echo "out:$(echo "$line" | tr a-z A-Z):$*:$GREETING"; echo "err:sh" >&2; exit 3',
  python: [
    'import os, sys',
    'line = sys.stdin.readline().strip()',
    "print(f\"out:{line.upper()}:{' '.join(sys.argv[1:])}:{os.environ['GREETING']}\")",
    'print("err:python", file=sys.stderr)',
    'sys.exit(3)',
  ].join('\n'),
  javascript: [
    "const line = require('fs').readFileSync(0, 'utf8').split('\\n')[0];",
    "console.log(`out:${line.toUpperCase()}:${process.argv.slice(2).join(' ')}:${process.env.GREETING}`);",
    "console.error('err:javascript');",
    'process.exitCode = 3;',
  ].join('\n'),
  typescript: [
    "import * as fs from 'fs';",
    "const line: string = fs.readFileSync(0, 'utf8').split('\\n')[0];",
    'const args: string[] = process.argv.slice(2);',
    "console.log(`out:${line.toUpperCase()}:${args.join(' ')}:${process.env.GREETING}`);",
    "console.error('err:typescript');",
    'process.exitCode = 3;',
  ].join('\n'),
  go: [
    'package main',
    'import ("bufio"; "fmt"; "os"; "strings")',
    'func main() {',
    '  line, _ := bufio.NewReader(os.Stdin).ReadString(10)',
    '  fmt.Printf("out:%s:%s:%s\\n", strings.ToUpper(strings.TrimSpace(line)), strings.Join(os.Args[1:], " "), os.Getenv("GREETING"))',
    '  fmt.Fprintln(os.Stderr, "err:go")',
    '  os.Exit(3)',
    '}',
  ].join('\n'),
  rust: [
    'use std::io::BufRead;',
    'fn main() {',
    '  let mut line = String::new();',
    '  std::io::stdin().lock().read_line(&mut line).unwrap();',
    '  let args: Vec<String> = std::env::args().skip(1).collect();',
    '  println!("out:{}:{}:{}", line.trim().to_uppercase(), args.join(" "), std::env::var("GREETING").unwrap());',
    '  eprintln!("err:rust");',
    '  std::process::exit(3);',
    '}',
  ].join('\n'),
};

const COMPILE_ERRORS: Record<string, { source: string; expect: RegExp }> = {
  go: { source: 'package main\nfunc main() { undefinedThing() }\n', expect: /undefined: undefinedThing/ },
  rust: { source: 'fn main() { let x: i32 = "text"; }\n', expect: /mismatched types/ },
  typescript: { source: 'const x: = 5;\nconsole.log(x);\n', expect: /main\.ts\(1,10\).*error TS/ },
};

const EXPECTED_VERSION: Record<string, RegExp> = {
  bash: /^\d+\.\d+\.\d+$/,
  sh: /\S/,
  python: /^3\.\d+\.\d+$/,
  javascript: /^\d+\.\d+\.\d+$/,
  typescript: /^\d+\.\d+\.\d+$/,
  go: /^1\.\d+(\.\d+)?$/,
  rust: /^1\.\d+\.\d+$/,
};

function describeResult(r: RunResult): string {
  return JSON.stringify({ status: r.status, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, message: r.message });
}

describe('RunCode', () => {
  let agent: RunningAgent;
  let languages: Language[];
  const sandboxes: Record<'unix' | 'tcp', Sandbox> = {} as Record<'unix' | 'tcp', Sandbox>;

  const fixture = useAgent({ args: ['--cache-dir', SHARED_CACHE] });
  beforeAll(async () => {
    agent = fixture.agent;
    sandboxes.unix = fixture.sb;
    sandboxes.tcp = await fixture.connect('tcp');
    languages = await sandboxes.unix.languages();
    const missing = Object.keys(PROGRAMS).filter((name) => !languages.some((l) => l.name === name));
    // Visible in the test output: a language without a toolchain here is skipped, not passed.
    console.log(
      `languages offered: ${languages.map((l) => `${l.name} ${l.version}`).join(', ')}; missing here: ${missing.join(', ') || 'none'}`,
    );
  });

  it('lists each language with a version, compiled ones marked', () => {
    for (const l of languages) {
      expect(l.version, l.name).toMatch(EXPECTED_VERSION[l.name] ?? /\S/);
      expect(l.compiled, l.name).toBe(['go', 'rust', 'typescript'].includes(l.name));
    }
    expect(languages.map((l) => l.name)).toContain('bash');
  });

  for (const which of ['unix', 'tcp'] as const) {
    for (const name of Object.keys(PROGRAMS)) {
      it(`${name} over ${which}: stdin, args, env, stdout/stderr separation, exit code`, async (ctx) => {
        requireInCi(
          ctx,
          languages.some((l) => l.name === name),
          `the ${name} toolchain`,
        );
        const r = await sandboxes[which].runCode(name, PROGRAMS[name]!, {
          stdin: 'hello world\n',
          args: ['a b', 'c'],
          env: { GREETING: 'héllo' },
        });
        expect(r.status, describeResult(r)).toBe('exited');
        expect(r.exitCode).toBe(3);
        expect(r.stdout).toBe('out:HELLO WORLD:a b c:héllo\n');
        expect(r.stderr).toBe(`err:${name}\n`);
        expect(r.language).toBe(name);
        expect(r.run?.status).toBe('exited');
        if (['go', 'rust', 'typescript'].includes(name) && !r.compileCached) expect(r.compile?.status).toBe('exited');
        if (!['go', 'rust', 'typescript'].includes(name)) expect(r.compile).toBeUndefined();
      });
    }
  }

  for (const [name, { source, expect: pattern }] of Object.entries(COMPILE_ERRORS)) {
    it(`${name}: a compile error is a result with the compiler's output`, async (ctx) => {
      requireInCi(
        ctx,
        languages.some((l) => l.name === name),
        `the ${name} toolchain`,
      );
      const r = await sandboxes.unix.runCode(name, source);
      expect(r.status, describeResult(r)).toBe('compile_error');
      expect(r.exitCode).not.toBe(0);
      expect(r.compile?.status).toBe('compile_error');
      expect(r.run).toBeUndefined();
      expect(r.compile!.stdout + r.compile!.stderr).toMatch(pattern);
    });
  }

  for (const name of ['go', 'rust', 'typescript']) {
    it(`${name}: a repeated run hits the compile cache`, async (ctx) => {
      requireInCi(
        ctx,
        languages.some((l) => l.name === name),
        `the ${name} toolchain`,
      );
      const marker = `cache-${Math.random().toString(36).slice(2)}`;
      const source = {
        go: `package main\nimport "fmt"\nfunc main() { fmt.Println("${marker}") }\n`,
        rust: `fn main() { println!("${marker}"); }\n`,
        typescript: `const m: string = '${marker}';\nconsole.log(m);\n`,
      }[name]!;
      const first = await sandboxes.unix.runCode(name, source);
      const second = await sandboxes.tcp.runCode(name, source);
      console.log(
        `${name}: first run ${first.durationMs} ms (compile ${first.compile?.durationMs} ms), cached run ${second.durationMs} ms`,
      );
      expect(first.stdout).toBe(`${marker}\n`);
      expect(first.compileCached).toBe(false);
      expect(first.compile?.status).toBe('exited');
      expect(second.stdout).toBe(`${marker}\n`);
      expect(second.compileCached).toBe(true);
      expect(second.compile).toBeUndefined();
    });
  }

  it('a UTF-8 character split across two writes comes out whole', async (ctx) => {
    requireInCi(
      ctx,
      languages.some((l) => l.name === 'python'),
      'the python toolchain',
    );
    const chunks: { text: string; bytes: number }[] = [];
    const r = await sandboxes.unix.runCode(
      'python',
      [
        'import sys, time',
        "sys.stdout.buffer.write(b'\\xf0\\x9f'); sys.stdout.flush()",
        'time.sleep(0.5)',
        "sys.stdout.buffer.write(b'\\x98\\x80\\n'); sys.stdout.flush()",
      ].join('\n'),
      { onStdout: (text, chunk) => chunks.push({ text, bytes: chunk.bytes.length }) },
    );
    expect(r.stdout).toBe('😀\n');
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks[0]!.bytes).toBe(2);
    expect(chunks.map((c) => c.text).join('')).toBe('😀\n');
    expect(chunks.some((c) => c.text.includes('\uFFFD'))).toBe(false);
  });

  it('binary output: all 256 byte values round-trip in stdoutBytes', async (ctx) => {
    requireInCi(
      ctx,
      languages.some((l) => l.name === 'python'),
      'the python toolchain',
    );
    const r = await sandboxes.tcp.runCode('python', 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 3)');
    const expected = new Uint8Array(768).map((_, i) => i % 256);
    expect(r.stdoutBytes).toEqual(expected);
  });

  it.runIf(IN_CI || (process.getuid?.() === 0 && runboxUserExists()))(
    'runs as the runbox user, without supplementary groups, unable to read root-only files',
    async () => {
      const secretDir = mkdtempSync(path.join(os.tmpdir(), 'runbox-secret-'));
      chmodSync(secretDir, 0o755);
      const secret = path.join(secretDir, 'secret');
      writeFileSync(secret, 'root only\n', { mode: 0o600 });
      try {
        const r = await sandboxes.unix.runCode('bash', `id -un; grep '^Groups:' /proc/self/status; cat "$1"`, { args: [secret] });
        expect(r.stdout.split('\n')[0]).toBe('runbox');
        expect(r.stdout.split('\n')[1]).toMatch(/^Groups:\s*$/);
        expect(r.stdout).not.toContain('root only');
        expect(r.stderr).toContain('Permission denied');
        expect(r.exitCode).toBe(1);
      } finally {
        rmSync(secretDir, { recursive: true, force: true });
      }
    },
  );

  it('each run gets a fresh private 0700 directory that is removed afterwards; HOME, PATH and LANG are set', async () => {
    const r = await sandboxes.unix.runCode('bash', 'pwd; stat -c "%a %U" .; ls -A; echo "$HOME|$PATH|$LANG|$RUNBOX_RUN_ID"');
    const [dir, mode, listing, env] = r.stdout.trim().split('\n');
    expect(dir).toBe(path.join(agent.dir, 'runs', r.runId));
    expect(mode).toBe(`700 ${process.getuid?.() === 0 && runboxUserExists() ? 'runbox' : os.userInfo().username}`);
    expect(listing).toBe('main.sh');
    const [home, pathVar, lang, runId] = env!.split('|');
    expect(home).toBe(process.getuid?.() === 0 && runboxUserExists() ? '/home/runbox' : os.homedir());
    expect(pathVar!.startsWith('/usr/local/bin:/usr/bin:/bin')).toBe(true);
    expect(lang).toBe('C.UTF-8');
    expect(runId).toBe(r.runId);
    expect(existsSync(dir!)).toBe(false);
    const other = await sandboxes.unix.runCode('bash', 'pwd');
    expect(other.stdout.trim()).not.toBe(dir);
  });

  it('removing the private directory never follows the links a run left in it', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'runbox-outside-'));
    try {
      chmodSync(outside, 0o777);
      mkdirSync(path.join(outside, 'sub'), { mode: 0o777 });
      writeFileSync(path.join(outside, 'keep.txt'), 'keep');
      writeFileSync(path.join(outside, 'sub', 'keep.txt'), 'keep');
      const r = await sandboxes.unix.runCode(
        'sh',
        'ln -s "$1" dirlink; ln -s "$1/keep.txt" filelink; mkdir -p d/e; ln -s "$1/sub" d/e/deep; pwd',
        { args: [outside] },
      );
      expect(r.exitCode).toBe(0);
      expect(existsSync(r.stdout.trim())).toBe(false);
      expect(readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('keep');
      expect(readFileSync(path.join(outside, 'sub', 'keep.txt'), 'utf8')).toBe('keep');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a flat private directory (links, a non-UTF-8 name, no subdirectory) is removed without following its links', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'runbox-outside-'));
    try {
      chmodSync(outside, 0o777);
      writeFileSync(path.join(outside, 'keep.txt'), 'keep');
      const r = await sandboxes.unix.runCode(
        'sh',
        'ln -s "$1" dirlink; ln -s "$1/keep.txt" filelink; : > "$(printf \'name-\\377\')"; ls | wc -l; pwd',
        { args: [outside] },
      );
      const [count, dir] = r.stdout.trim().split('\n');
      expect(r.exitCode).toBe(0);
      expect(count).toBe('4'); // main.sh, the two links, the file with a non-UTF-8 name
      expect(existsSync(dir!)).toBe(false);
      expect(readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a private directory with more entries than the agent removes itself is removed too', async () => {
    const r = await sandboxes.unix.runCode('sh', 'for i in $(seq 1 200); do : > "f$i"; done; ls | wc -l; pwd');
    const [count, dir] = r.stdout.trim().split('\n');
    expect(count).toBe('201');
    expect(existsSync(dir!)).toBe(false);
  });

  it('the compile cache refuses a FIFO or a link in place of the compile output, without blocking', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-cache-'));
    try {
      const me = os.userInfo();
      const cache = new CompileCache(path.join(dir, 'cache'), {
        name: me.username,
        uid: me.uid,
        gid: me.gid,
        home: me.homedir,
        shell: '/bin/sh',
      });
      const fifo = path.join(dir, 'main');
      execFileSync('mkfifo', [fifo]);
      // Before the fix, open() of a FIFO with no writer blocked the agent's whole event loop.
      expect(() => cache.store('a'.repeat(64), fifo, me.uid)).toThrow(/not a regular file/);
      const link = path.join(dir, 'link');
      writeFileSync(path.join(dir, 'real'), 'binary');
      symlinkSync(path.join(dir, 'real'), link);
      expect(() => cache.store('b'.repeat(64), link, me.uid)).toThrow(/ELOOP/);
      expect(cache.lookup('a'.repeat(64))).toBeUndefined();
      expect(cache.lookup('b'.repeat(64))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cwd runs the program elsewhere', async () => {
    const r = await sandboxes.unix.runCode('sh', 'pwd', { cwd: '/tmp' });
    expect(r.stdout).toBe('/tmp\n');
  });

  it('rejects an unknown language listing the available ones, then keeps serving', async () => {
    const error = await sandboxes.unix.runCode('cobol', 'DISPLAY "HI".').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/language "cobol" is not available.*available: bash/);
    expect((await sandboxes.unix.runCode('sh', 'echo ok')).stdout).toBe('ok\n');
  });

  it('language names are case-insensitive and aliases work', async () => {
    const r = await sandboxes.unix.runCode('BASH', 'echo $0 | grep -c main.sh');
    expect(r.stdout).toBe('1\n');
    if (languages.some((l) => l.name === 'python')) {
      const py = await sandboxes.unix.runCode('py', 'print(2 + 2)');
      expect(py.language).toBe('python');
      expect(py.stdout).toBe('4\n');
    }
  });

  it('rejects an oversized source naming --max-source-bytes, then keeps serving', async () => {
    const source = 'x'.repeat(4 * 1024 * 1024 + 1);
    const error = await sandboxes.tcp.runCode('bash', source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/source is 4194305 bytes.*4194304.*--max-source-bytes/);
    expect((await sandboxes.tcp.runCode('bash', 'echo ok')).stdout).toBe('ok\n');
  });

  it('rejects NUL bytes in args and bad env names, naming the field', async () => {
    await expect(sandboxes.unix.runCode('bash', 'true', { args: ['ok', 'bad\0arg'] })).rejects.toThrow(/args\[1\] contains a NUL byte/);
    await expect(sandboxes.unix.runCode('bash', 'true', { env: { 'A=B': 'x' } })).rejects.toThrow(/env key "A=B" is invalid/);
    await expect(sandboxes.unix.runCode('bash', 'true', { cwd: 'relative/dir' })).rejects.toThrow(
      /cwd "relative\/dir" must be an absolute path/,
    );
    await expect(sandboxes.unix.runCode('bash', 'true', { cwd: '/no/such/dir' })).rejects.toThrow(/cwd "\/no\/such\/dir" does not exist/);
    expect((await sandboxes.unix.runCode('bash', 'echo ok')).stdout).toBe('ok\n');
  });

  it('reports the effective limits: defaults, clamping, and 0 for what the none backend cannot enforce', async () => {
    const r = await sandboxes.unix.runCode('sh', 'true', { timeoutMs: 10 * 60 * 60_000, outputLimitBytes: 1234, memoryBytes: 1 << 20 });
    expect(r.limits).toEqual({
      timeoutMs: 60 * 60_000,
      compileTimeoutMs: 120_000,
      outputLimitBytes: 1234,
      memoryBytes: 0,
      maxProcesses: 0,
    });
  });

  describe('runbox run (CLI)', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-cli-run-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("streams stdout/stderr as raw bytes and exits with the program's code; stdin and args reach it", async () => {
      const file = path.join(dir, 'echo.sh');
      writeFileSync(file, 'printf "%s|" "$@"; cat; printf "\\377\\000" ; echo oops >&2; exit 5');
      const r = await cli(['run', '--target', agent.unixTarget, 'bash', file, '--', '-x', 'two words'], { input: 'piped\n' });
      expect(r.code).toBe(5);
      expect(r.stdout).toEqual(Buffer.concat([Buffer.from('-x|two words|piped\n'), Buffer.from([0xff, 0x00])]));
      expect(r.stderr).toBe('oops\n');
    });

    it('reads the source from - and stdin from --stdin-file', async () => {
      const input = path.join(dir, 'input.txt');
      writeFileSync(input, 'from file\n');
      const r = await cli(['run', '--target', agent.tcpTarget, '--stdin-file', input, 'sh', '-'], { input: 'cat; echo done' });
      expect(r.stderr).toBe('');
      expect(r.stdout.toString()).toBe('from file\ndone\n');
      expect(r.code).toBe(0);
    });

    it('exits 124 on timeout with a one-line reason, 128+N on a signal, 1 on a compile error', async () => {
      const file = path.join(dir, 'slow.sh');
      writeFileSync(file, 'sleep 30');
      const timedOut = await cli(['run', '--target', agent.unixTarget, '--timeout-ms', '300', 'bash', file]);
      expect(timedOut.code).toBe(124);
      expect(timedOut.stderr.trim().split('\n')).toHaveLength(1);
      expect(timedOut.stderr).toMatch(/timed out.*300 ms/);

      writeFileSync(file, 'kill -USR1 $$');
      const signaled = await cli(['run', '--target', agent.unixTarget, 'bash', file]);
      expect(signaled.code).toBe(128 + os.constants.signals.SIGUSR1);

      if (languages.some((l) => l.name === 'rust')) {
        const bad = path.join(dir, 'bad.rs');
        writeFileSync(bad, COMPILE_ERRORS.rust!.source);
        const compile = await cli(['run', '--target', agent.unixTarget, 'rust', bad]);
        expect(compile.code).toBe(1);
        expect(compile.stderr).toMatch(/mismatched types[\s\S]*compile error/);
      }
    });

    it('exits 125 for runbox errors, 2 for usage errors', async () => {
      const file = path.join(dir, 'x.txt');
      writeFileSync(file, 'x');
      const unknown = await cli(['run', '--target', agent.unixTarget, 'cobol', file]);
      expect(unknown.code).toBe(125);
      expect(unknown.stderr).toMatch(/cobol/);
      const usage = await cli(['run', '--target', agent.unixTarget, '--frobnicate', 'bash', file]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('Usage: runbox run');
      const missing = await cli(['run', '--target', agent.unixTarget, 'bash']);
      expect(missing.code).toBe(2);
      const help = await cli(['run', '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout.toString()).toContain('Exit status');
    });
  });
});
