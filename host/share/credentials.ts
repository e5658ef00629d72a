// Registry credentials: given explicitly, or from the Docker config file every registry tool
// reads (`$DOCKER_CONFIG/config.json`, else ~/.docker/config.json), `auths.<host>.auth`
// (base64 of user:password). Never printed or logged; errors name the file, not the secret.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** The credentials for `registry` in the Docker config file, or undefined when it has none. */
export function credentialsFor(registry: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const file = dockerConfigPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(text) as { auths?: typeof auths }).auths ?? {};
  } catch {
    throw new InvalidArgumentError(`${file} is not JSON; fix it or set DOCKER_CONFIG to another directory`, {
      reason: 'CREDENTIALS_INVALID',
      metadata: { path: file },
    });
  }
  const entry = auths[registry] ?? auths[`https://${registry}`] ?? auths[`http://${registry}`];
  if (!entry) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  const decoded = Buffer.from(entry.auth ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new InvalidArgumentError(`${file}: auths.${registry}.auth is not base64 of user:password`, {
      reason: 'CREDENTIALS_INVALID',
      metadata: { path: file, registry },
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
