import assert from "node:assert/strict";
import { createProgress, formatDuration, formatRate } from "../src/util/progress.ts";

/** A stream that records what is written; `terminal` decides bar vs plain mode. */
function fakeStream(terminal: boolean) {
  const decoder = new TextDecoder();
  let text = "";
  return {
    isTerminal: () => terminal,
    writeSync(b: Uint8Array): number {
      text += decoder.decode(b);
      return b.length;
    },
    get text() {
      return text;
    },
  };
}

function fakeClock() {
  let ms = 0;
  return { now: () => ms, at: (seconds: number) => (ms = seconds * 1000) };
}

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(7.4), "7s");
  assert.equal(formatDuration(59.6), "1m00s");
  assert.equal(formatDuration(845), "14m05s");
  assert.equal(formatDuration(3723), "1h02m03s");
  assert.equal(formatDuration(90061), "1d01h01m");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatDuration(Infinity), "?");
});

Deno.test("formatRate switches between s/item and items/s", () => {
  assert.equal(formatRate(1.94), "1.9 s/item");
  assert.equal(formatRate(1), "1.0 s/item");
  assert.equal(formatRate(0.2), "5.0 items/s");
});

Deno.test("plain mode prints the first, then at most every N seconds, and the last", () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = createProgress({
    total: 5,
    label: "search",
    stream,
    plainEverySeconds: 10,
    now: clock.now,
  });
  clock.at(1);
  progress.tick(1, { best: 0.5 });
  clock.at(5);
  progress.tick(2, { best: 0.25 }); // held back: 4 s after the last line
  clock.at(12);
  progress.tick(3, { best: 0.123456, arch: "a|b" });
  clock.at(13);
  progress.tick(4);
  progress.log("note: something happened");
  clock.at(20);
  progress.tick(5, { best: 0.1 });
  progress.stop();
  assert.equal(
    stream.text,
    [
      "search: 1/5 (20.0%) 1.0 s/item ETA 4s best=0.5",
      "search: 3/5 (60.0%) 4.0 s/item ETA 8s best=0.1235 arch=a|b",
      "note: something happened",
      "search: 5/5 (100.0%) 4.0 s/item ETA 0s best=0.1",
      "",
    ].join("\n"),
  );
});

Deno.test("plain mode: stop prints a held-back line; replayed items are not in the rate", () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = createProgress({
    total: 450,
    label: "explore",
    stream,
    initial: 17,
    now: clock.now,
  });
  progress.tick(17);
  clock.at(2);
  progress.tick(18);
  clock.at(3);
  progress.tick(28);
  progress.stop();
  progress.tick(29); // ignored after stop
  assert.equal(
    stream.text,
    [
      "explore: 17/450 (3.8%)",
      "explore: 28/450 (6.2%) 3.7 items/s ETA 1m55s",
      "",
    ].join("\n"),
  );
});

Deno.test("terminal mode draws a cli-progress bar with count, rate, fields and log lines", () => {
  const stream = fakeStream(true);
  const clock = fakeClock();
  const progress = createProgress({ total: 10, label: "search", stream, now: clock.now });
  clock.at(6);
  progress.tick(3, { best: 0.5 });
  progress.log("hello");
  progress.stop();
  const text = stream.text;
  assert.match(text, /search \[=+-+\] 3\/10 2\.0 s\/item ETA 14s best=0\.5/);
  assert.ok(text.includes("\r\x1b[2K\x1b[?7hhello\n"), "log clears the bar line and wraps");
  assert.ok(text.indexOf("hello") < text.lastIndexOf("3/10"), "the bar is redrawn after a log");
  assert.ok(text.endsWith("\n"));
});
