// The package version, from package.json at build time (build.mjs `define`); '0.0.0-dev' when
// run from source by the tests.
declare const RUNBOX_VERSION: string | undefined;
export const VERSION: string = typeof RUNBOX_VERSION === 'string' ? RUNBOX_VERSION : '0.0.0-dev';
