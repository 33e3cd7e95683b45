import type * as NodeFs from "node:fs";

/** The file calls the sweep uses. */
export type SweepFs = Pick<typeof NodeFs, "readdirSync" | "readlinkSync" | "statSync" | "lstatSync" | "promises">;

/** Loads node:fs on demand, so the Worker bundle (no filesystem there) never imports it. */
export async function loadFs(): Promise<SweepFs> {
  return await import("node:fs");
}
