// While the agent finds its toolchains it already serves: the registry is empty with the fixed
// search path until detection settles, and `ready` is what runs, shells and ListLanguages wait on.
import { describe, expect, it } from 'vitest';
import { detectingRegistry, registry, type LanguageRegistry, type LanguageSpec } from '../../agent/languages/languages.js';
import { SYSTEM_PATH } from '../../agent/usercode/env.js';

const bash: LanguageSpec = {
  name: 'bash',
  aliases: ['sh-bash'],
  version: '5.2',
  compiled: false,
  sourceFile: 'main.sh',
  outputFile: '',
  run: (program, args) => ({ argv: ['bash', program, ...args], env: {} }),
};

describe('detectingRegistry', () => {
  it('is empty with the system path until detection settles, then answers as the detected registry', async () => {
    let settle!: (r: LanguageRegistry) => void;
    const detecting = detectingRegistry(new Promise((resolve) => (settle = resolve)));
    let ready = false;
    void detecting.ready.then(() => (ready = true));
    expect(detecting.list()).toEqual([]);
    expect(detecting.spec('bash')).toBeUndefined();
    expect(detecting.resolve('sh-bash')).toBeUndefined();
    expect(detecting.searchPath).toBe(SYSTEM_PATH);
    await Promise.resolve();
    expect(ready).toBe(false);
    settle(registry([bash], `${SYSTEM_PATH}:/opt/go/bin`));
    await detecting.ready;
    expect(ready).toBe(true);
    expect(detecting.list().map((l) => l.name)).toEqual(['bash']);
    expect(detecting.spec('BASH')?.sourceFile).toBe('main.sh');
    expect(detecting.resolve('sh-bash')?.name).toBe('bash');
    expect(detecting.searchPath).toBe(`${SYSTEM_PATH}:/opt/go/bin`);
  });
});
