// Replaced at bundle time by build.mjs (esbuild `define`); the fallback serves tests run from source.
declare const RUNBOX_VERSION: string | undefined;
export const AGENT_VERSION: string = typeof RUNBOX_VERSION === 'string' ? RUNBOX_VERSION : '0.0.0-dev';
