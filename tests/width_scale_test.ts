/**
 * --width-scale (NDS cell spaces): the width built is the scaled width rounded to an even number
 * (the architecture, its text and its seed keep their own width); a network at width 8 scaled by
 * 0.5 is the width-4 network; the flag is refused, exit 2, on spaces it does not apply to and for
 * values outside (0, 1].
 */
import assert from "node:assert/strict";
import { FAST, GENOTYPE } from "./support/nds.ts";
import { runCli } from "./support/cli.ts";
import { scaledNdsWidth } from "../src/spaces/nds_build.ts";
import { getSpace } from "../src/spaces/index.ts";
import { archCost } from "../src/proxy/cost.ts";
import { DEFAULT_PROXY_SETTINGS, validateProxySettings } from "../src/proxy/settings.ts";
import { InputError } from "../src/util/errors.ts";

Deno.test("width scale: the nearest even width, at least 2; none leaves the width", () => {
  assert.deepEqual(scaledNdsWidth(16), 16);
  assert.deepEqual(scaledNdsWidth(16, 1), 16);
  assert.deepEqual(scaledNdsWidth(16, 0.5), 8);
  assert.deepEqual(scaledNdsWidth(16, 0.3), 4); // 4.8 → 2 pairs
  assert.deepEqual(scaledNdsWidth(48, 0.25), 12);
  assert.deepEqual(scaledNdsWidth(36, 0.5), 18);
  assert.deepEqual(scaledNdsWidth(6, 0.1), 2);
});

Deno.test("width scale: the scaled network counts as the narrower one, fixed spaces included", () => {
  for (const name of ["darts", "darts_in", "enas-fix-w-d", "pnas_in"]) {
    const space = getSpace(name);
    const arch = space.parse(space.example) as { width: number };
    const wide = archCost(space, arch, { initChannels: 16 });
    const narrow = archCost(space, arch, { initChannels: 16, widthScale: 0.5 });
    // Products scale with width², up to the classifier and the odd stem.
    const ratio = narrow.macs / wide.macs;
    assert(ratio > 0.2 && ratio < 0.32, `${name}: MACs ratio ${ratio}`);
    assert(narrow.params < 0.4 * wide.params, `${name}: ${narrow.params} vs ${wide.params}`);
    const same = archCost(space, arch, { initChannels: 16, widthScale: 1 });
    assert.deepEqual([same.macs, same.params], [wide.macs, wide.params]);
  }
});

Deno.test("width scale: values outside (0, 1] are refused naming the flag", () => {
  for (const widthScale of [0, -0.5, 1.5, NaN]) {
    assert.throws(
      () => validateProxySettings({ ...DEFAULT_PROXY_SETTINGS, widthScale }),
      (e) =>
        e instanceof InputError && /--width-scale must be a number in \(0, 1\]/.test(e.message),
    );
  }
});

Deno.test("gennas score --width-scale: width 8 at 0.5 builds the width-4 network", async () => {
  const json = async (args: string[]) => {
    const r = await runCli([
      "score",
      "--space",
      "darts",
      "--arch",
      GENOTYPE,
      "--depth",
      "3",
      "--json",
      ...FAST,
      ...args,
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const scaled = await json(["--width", "8", "--width-scale", "0.5"]);
  const narrow = await json(["--width", "4"]);
  assert.deepEqual(scaled.widthScale, 0.5);
  assert.deepEqual(narrow.widthScale, undefined);
  assert.deepEqual([scaled.macs, scaled.parameters], [narrow.macs, narrow.parameters]);
  assert(scaled.arch.includes("# width=8 depth=3"), scaled.arch);
  assert(Number.isFinite(scaled.loss), `${scaled.loss}`);
});

Deno.test("gennas --width-scale: other spaces and bad values exit 2 with one message", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["--space", "nb201"],
      /--width-scale applies to the NDS cell and AnyNet spaces only.*resnext-a_in.*--init-channels/,
    ],
    [["--space", "nbmacro"], /--width-scale applies to the NDS cell and AnyNet spaces only/],
    [
      ["--space", "darts", "--arch", GENOTYPE, "--width-scale", "0"],
      /must be a number in \(0, 1\]/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["score", "--width-scale", "0.5", ...args, ...FAST]);
    assert.deepEqual(r.code, 2, `${args}: ${r.stderr}`);
    assert(message.test(r.stderr), r.stderr);
    assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
  }
});
