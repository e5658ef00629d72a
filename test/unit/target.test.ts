// The targets Sandbox.connect dials (host/transport/target.ts): tcp://HOST:PORT (IPv6 in
// brackets, kept so `${host}:${port}` is what gRPC dials), unix:///PATH, vsock:///UDS:PORT.
// Anything else is an InvalidArgumentError that names the target and the accepted forms.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../host/errors.js';
import { formatTarget, parseTarget, type Target } from '../../host/transport/target.js';

describe('parseTarget', () => {
  it.each<[string, Target]>([
    ['tcp://172.16.0.2:5000', { kind: 'tcp', host: '172.16.0.2', port: 5000 }],
    ['tcp://localhost:1', { kind: 'tcp', host: 'localhost', port: 1 }],
    ['tcp://agent.example:65535', { kind: 'tcp', host: 'agent.example', port: 65535 }],
    ['tcp://[::1]:5000', { kind: 'tcp', host: '[::1]', port: 5000 }],
    ['tcp://[fe80::1%eth0]:80', { kind: 'tcp', host: '[fe80::1%eth0]', port: 80 }],
    ['tcp://h:05000', { kind: 'tcp', host: 'h', port: 5000 }], // leading zeros are still the number
    ['unix:///run/runbox/agent.sock', { kind: 'unix', path: '/run/runbox/agent.sock' }],
    ['unix:///a b:c', { kind: 'unix', path: '/a b:c' }], // a path is anything after unix://
    ['vsock:///tmp/vm/v.sock:5000', { kind: 'vsock', path: '/tmp/vm/v.sock', port: 5000 }],
    ['vsock:///a:b/v.sock:52', { kind: 'vsock', path: '/a:b/v.sock', port: 52 }], // the last :N is the port
    ['vsock:///v.sock:4294967295', { kind: 'vsock', path: '/v.sock', port: 0xffffffff }],
  ])('%s → %j', (input, expected) => {
    expect(parseTarget(input)).toEqual(expected);
  });

  it.each([
    ['tcp port 0', 'tcp://h:0', /port must be 1-65535/],
    ['tcp port over 65535', 'tcp://h:65536', /port must be 1-65535/],
    ['tcp port of six digits', 'tcp://h:100000', /is not understood/],
    ['tcp without a port', 'tcp://h', /is not understood/],
    ['tcp with an empty port', 'tcp://h:', /is not understood/],
    ['tcp with a trailing slash', 'tcp://h:5000/', /is not understood/],
    ['tcp without a host', 'tcp://:5000', /is not understood/],
    ['tcp with an empty bracket host', 'tcp://[]:5000', /is not understood/],
    ['tcp with a bare IPv6 host', 'tcp://::1:5000', /is not understood/],
    ['tcp with a negative port', 'tcp://h:-1', /is not understood/],
    ['tcp with a path', 'tcp://h/x:5000', /is not understood/],
    ['host:port without a scheme', '172.16.0.2:5000', /is not understood/],
    ['an unknown scheme', 'http://h:5000', /is not understood/],
    ['an upper-case scheme', 'TCP://h:5000', /is not understood/],
    ['unix with a relative path', 'unix://run/agent.sock', /is not understood/],
    ['unix with no path', 'unix://', /is not understood/],
    ['unix with only the root', 'unix:///', /is not understood/],
    ['vsock without a port', 'vsock:///tmp/v.sock', /is not understood/],
    ['vsock with a relative path', 'vsock://v.sock:5000', /is not understood/],
    ['vsock port over 32 bits', 'vsock:///v.sock:4294967296', /vsock port must fit in 32 bits/],
    ['vsock port of eleven digits', 'vsock:///v.sock:12345678901', /is not understood/],
    ['the empty string', '', /is not understood/],
  ])('%s (%j) is an InvalidArgumentError', (_name, input, message) => {
    let error: unknown;
    try {
      parseTarget(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toMatch(message);
    expect((error as InvalidArgumentError).message).toContain(input === '' ? '""' : input);
  });

  it('names the accepted forms when it does not understand a target', () => {
    expect(() => parseTarget('nonsense')).toThrow(/tcp:\/\/HOST:PORT, unix:\/\/\/PATH or vsock:\/\/\/PATH:PORT/);
  });
});

describe('formatTarget', () => {
  it.each<[Target, string]>([
    [{ kind: 'tcp', host: '10.0.2.15', port: 5000 }, 'tcp://10.0.2.15:5000'],
    [{ kind: 'tcp', host: '[::1]', port: 80 }, 'tcp://[::1]:80'],
    [{ kind: 'unix', path: '/run/runbox/agent.sock' }, 'unix:///run/runbox/agent.sock'],
    [{ kind: 'vsock', path: '/tmp/v.sock', port: 52 }, 'vsock:///tmp/v.sock:52'],
  ])('%j → %s', (target, expected) => {
    expect(formatTarget(target)).toBe(expected);
  });

  it.each(['tcp://172.16.0.2:5000', 'tcp://[fe80::1%eth0]:65535', 'unix:///a b:c', 'vsock:///a:b/v.sock:52'])(
    '%s survives parse → format → parse',
    (input) => {
      const parsed = parseTarget(input);
      expect(formatTarget(parsed)).toBe(input);
      expect(parseTarget(formatTarget(parsed))).toEqual(parsed);
    },
  );
});
