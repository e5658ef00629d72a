// The environment user code starts with, runs, shells and code contexts alike: the user's
// identity, one PATH, a UTF-8 locale, then the image's variables (--env-file), then (a per-run
// tenant) TMPDIR on its private /tmp, then the caller's layers. Never the agent's own environment.
import type { Identity } from './isolation.js';

/** The fixed system path toolchains are searched on (see languages/) and user code gets. */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

export function userEnv(
  who: Identity,
  path: string,
  imageEnv: Record<string, string>,
  ...overrides: Record<string, string>[]
): Record<string, string> {
  const { user } = who;
  const env: Record<string, string> = {
    PATH: path,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    LANG: 'C.UTF-8',
  };
  for (const layer of [imageEnv, who.isolated ? { TMPDIR: '/tmp' } : {}, ...overrides]) Object.assign(env, layer);
  return env;
}
