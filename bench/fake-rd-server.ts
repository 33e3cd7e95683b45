// A fake Real-Debrid account served on loopback for the benchmarks: `node fake-rd-server.mjs <torrents>`.
// Prints "READY <base url>" and serves until stdin closes or it is killed.
import { createFakeRealDebrid, makeAccount } from "../test/fakes/real-debrid.ts";

const n = Number(process.argv[2] ?? "100000");
const fake = createFakeRealDebrid({ rateLimitPerMinute: 0, frozen: true });
fake.add(...makeAccount(n));
const server = await fake.listen();
process.stdout.write(`READY ${server.url}\n`);
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
