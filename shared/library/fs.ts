import type * as NodeFs from "node:fs";

/** The file calls the sweep makes on the main thread (the library walk reads through node:fs in its own thread). */
export type SweepFs = Pick<typeof NodeFs, "readdirSync" | "statSync" | "lstatSync" | "promises">;

/** Loads node:fs on demand, so the workerd bundle (no filesystem there) never imports it. */
export async function loadFs(): Promise<SweepFs> {
  return await import("node:fs");
}
