/** The V8 options RDTM runs with (see node-flags.mjs). */
export declare const NODE_FLAGS: string[];
