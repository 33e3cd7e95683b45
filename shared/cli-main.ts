import { main } from "./cli.ts";

// The process entry of `rdtm`: wires the real process to the CLI and exits with its code.
const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => resolve(sig));
});
const code = await main(process.argv.slice(2), {
  env: process.env,
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  // Progress bars redraw one line in place, so they go out without a newline.
  write: (t) => process.stdout.write(t),
  tty: process.stdout.isTTY === true,
  stopSignal,
});
process.exit(code);
