// The V8 options RDTM runs with: `npm start`, the Docker image (NODE_OPTIONS), the installed `rdtm`
// command and every benchmark of the service. test/node-flags.test.ts keeps those places in step.
//
// --max-semi-space-size=4: V8's young generation grows to 2 x 16 MB by default once a process keeps
// allocating short-lived objects (a 5,000-torrent page, a 200k-link sweep), and that space stays
// committed. Capped at 4 MB, the full scan's and the sweep's peak RSS drop by ~10-20 MB at no
// measurable cost in time (bench: full scan and sweep, medians of 5, with and without).
export const NODE_FLAGS = ["--max-semi-space-size=4"];
