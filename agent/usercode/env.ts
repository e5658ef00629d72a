// The environment user code starts with, runs and shells alike: the user's identity, one PATH,
// a UTF-8 locale, then the image's variables (--env-file), then the request's. Never the
// agent's own environment.
import type { RunAsUser } from '../core/users.js';

/** The fixed system path toolchains are searched on (see languages/) and user code gets. */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

export function userEnv(
  user: RunAsUser,
  path: string,
  imageEnv: Record<string, string>,
  ...overrides: Record<string, string>[]
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: path,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    LANG: 'C.UTF-8',
  };
  for (const layer of [imageEnv, ...overrides]) Object.assign(env, layer);
  return env;
}
