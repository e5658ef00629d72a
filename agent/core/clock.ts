// A monotonic clock in milliseconds from process.hrtime, which Node has at start: importing
// node:perf_hooks for performance.now() loads nine more of Node's own modules at every agent
// start, and the images' Node 18 (no code cache) compiles each one from source, seconds of a
// boot under emulation all told.
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
