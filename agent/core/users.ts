// Resolves who runs user code. The agent runs as root in an image; user code never does.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { log } from './log.js';

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Looks a user up with getent (covers /etc/passwd and NSS); undefined when unknown. */
export function lookupUser(name: string): RunAsUser | undefined {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
  const [user, , uid, gid, , home, shell] = line.split(':');
  if (!user || uid === undefined || gid === undefined) return undefined;
  return { name: user, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
}

function currentUser(): RunAsUser {
  const info = os.userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir, shell: info.shell || '/bin/sh' };
}

/**
 * --user NAME must exist. Without it: `runbox` when we are root and it exists, else ourselves —
 * and running user code as root is said loudly, because it should never happen in an image.
 */
export function resolveRunAs(requested: string | undefined): RunAsUser {
  if (requested !== undefined) {
    const user = lookupUser(requested);
    if (!user) throw new Error(`--user ${requested}: no such user`);
    if (user.uid === 0) log.warn('security.run_as_root', { reason: '--user names root: user code runs as root' });
    return user;
  }
  const self = currentUser();
  if (self.uid === 0) {
    const runbox = lookupUser('runbox');
    if (runbox) return runbox;
    log.warn('security.run_as_root', { reason: 'agent is root and user runbox does not exist: user code runs as root' });
    return self;
  }
  log.info('run_as.self', { user: self.name, reason: 'agent is not root: user code runs as the agent user' });
  return self;
}
