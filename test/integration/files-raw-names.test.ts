// ListDir and names that are not UTF-8: Linux names are bytes, proto strings are UTF-8. Such an
// entry is listed (not hidden), with its exact bytes in raw_name and a display form in name;
// paging works across such names, and path-based calls cannot reach them (documented).
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unaryCall } from '../../proto/grpc.js';
import { FilesService, ListDirRequestSchema, type ListDirResponse } from '../../proto/gen/runbox/v1/files_pb.js';
import { NotFoundError } from '../../host/index.js';
import { runboxUserExists, useAgent } from '../helpers/agent.js';

const asRoot = process.getuid?.() === 0 && runboxUserExists();

const BAD_FF = Buffer.from([0x66, 0xff, 0x6f]); // f, a byte no UTF-8 has, o
const BAD_FE = Buffer.from([0x66, 0xfe, 0x6f]);
const LATIN1 = Buffer.from('caf\xe9', 'latin1'); // "café" in Latin-1: a lone E9
const UTF8 = Buffer.from('café', 'utf8');

// Made by user code (as the run-as user) through byte paths, as a program in the sandbox would.
const MAKE = [
  "const fs = require('fs');",
  'const dir = Buffer.from(process.argv[1] + "/");',
  'const at = (hex) => Buffer.concat([dir, Buffer.from(hex, "hex")]);',
  'for (const [hex, data] of JSON.parse(process.argv[2])) fs.writeFileSync(at(hex), data);',
  'fs.mkdirSync(at(process.argv[3]));',
  'fs.symlinkSync(Buffer.from("/tmp/" + "\\xff", "latin1"), at(Buffer.from("link").toString("hex")));',
].join('\n');

describe('ListDir with names that are not UTF-8', () => {
  const fixture = useAgent();
  let dir: string;
  let client: grpc.Client;

  beforeAll(async () => {
    const home = asRoot ? '/home/runbox' : (await fixture.sb.files.stat(process.env.HOME ?? '/tmp')).path;
    dir = `${home}/.raw-names-${randomBytes(4).toString('hex')}`;
    await fixture.sb.files.makeDir(dir);
    // Different contents, so sizes show each entry was described through its own bytes.
    const files = [
      [BAD_FF.toString('hex'), 'a'],
      [BAD_FE.toString('hex'), 'bb'],
      [LATIN1.toString('hex'), 'ccc'],
      [UTF8.toString('hex'), 'dddd'],
    ];
    const badDir = Buffer.from([0x64, 0x80]).toString('hex'); // "d" and a stray continuation byte
    const made = await fixture.sb.exec([process.execPath, '-e', MAKE, dir, JSON.stringify(files), badDir]);
    expect(made.exitCode, made.stderr).toBe(0);
    client = new grpc.Client(fixture.agent.unixTarget, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await fixture.sb.files.remove(dir, { recursive: true }).catch(() => undefined);
  });

  const page = (pageToken = '', pageSize = 0): Promise<ListDirResponse> =>
    unaryCall(client, FilesService.method.listDir, create(ListDirRequestSchema, { path: dir, pageToken, pageSize }), {
      metadata: new grpc.Metadata(),
      options: {},
    }).response;

  it('lists every entry, in byte order, with the exact bytes of each name that is not UTF-8', async () => {
    const entries = await fixture.sb.files.list(dir);
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['café', 'file', 4], // c3 a9 sorts before e9
      ['caf\\xe9', 'file', 3],
      ['d\\x80', 'directory', expect.any(Number)],
      ['f\\xfeo', 'file', 2],
      ['f\\xffo', 'file', 1],
      ['link', 'symlink', 6],
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(Buffer.from(byName.get('f\\xffo')!.rawName!).equals(BAD_FF)).toBe(true);
    expect(Buffer.from(byName.get('f\\xfeo')!.rawName!).equals(BAD_FE)).toBe(true);
    expect(Buffer.from(byName.get('caf\\xe9')!.rawName!).equals(LATIN1)).toBe(true);
    expect(Buffer.from(byName.get('d\\x80')!.rawName!)).toEqual(Buffer.from([0x64, 0x80]));
    expect(byName.get('f\\xffo')!.path).toBe(`${dir}/f\\xffo`);
    expect(byName.get('f\\xffo')!.owner).toBe(asRoot ? 'runbox' : expect.any(String));
    // Valid UTF-8 names are exact and carry no raw bytes.
    expect('rawName' in byName.get('café')!).toBe(false);
    expect('rawName' in byName.get('link')!).toBe(false);
    expect(byName.get('link')!.symlinkTarget).toBe('/tmp/\\xff');
  });

  it('on the wire: raw_name is set only for those names', async () => {
    const p = await page();
    expect(p.nextPageToken).toBe('');
    const raw = p.entries.map((e) => [e.name, Buffer.from(e.rawName).toString('hex')]);
    expect(raw).toEqual([
      ['café', ''],
      ['caf\\xe9', LATIN1.toString('hex')],
      ['d\\x80', '6480'],
      ['f\\xfeo', BAD_FE.toString('hex')],
      ['f\\xffo', BAD_FF.toString('hex')],
      ['link', ''],
    ]);
  });

  it('pages one entry at a time across those names, each once', async () => {
    const names: string[] = [];
    let token = '';
    do {
      const p = await page(token, 1);
      expect(p.entries.length).toBeLessThanOrEqual(1);
      names.push(...p.entries.map((e) => e.name));
      token = p.nextPageToken;
    } while (token !== '');
    expect(names).toEqual(['café', 'caf\\xe9', 'd\\x80', 'f\\xfeo', 'f\\xffo', 'link']);
  });

  it('the display path reaches no file; removing the directory recursively removes them', async () => {
    await expect(fixture.sb.files.stat(`${dir}/f\\xffo`)).rejects.toThrow(NotFoundError);
    const sub = `${dir}/sub`;
    await fixture.sb.files.makeDir(sub);
    const made = await fixture.sb.exec([
      process.execPath,
      '-e',
      'require("fs").writeFileSync(Buffer.from(process.argv[1] + "/\\xff", "latin1"), "")',
      sub,
    ]);
    expect(made.exitCode, made.stderr).toBe(0);
    expect((await fixture.sb.files.list(sub)).map((e) => e.name)).toEqual(['\\xff']);
    await fixture.sb.files.remove(sub, { recursive: true });
    await expect(fixture.sb.files.stat(sub)).rejects.toThrow(NotFoundError);
  });
});
