// Test-only preload (node --import): shifts this process's clock by RDTM_TEST_CLOCK_SKEW_MS, as two
// hosts whose clocks disagree would be. Used to prove that each schedule tick runs once.
const offset = Number(process.env.RDTM_TEST_CLOCK_SKEW_MS ?? 0);
if (offset !== 0) {
  const RealDate = Date;
  globalThis.Date = class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  };
}
