import assert from "node:assert/strict";
import { InputError } from "../src/util/errors.ts";
import {
  deepEqual,
  JournalLockedError,
  openJournal,
  settingDifferences,
} from "../src/util/journal.ts";

interface Row {
  key: string;
  fitness: number | null;
}

const SETTINGS = {
  seed: 1,
  population: 50,
  task: { noise: "gaussian", level: 0.1 },
  space: "nb201",
};

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeJournal(path: string, rows: Row[]): Promise<void> {
  const { journal } = await openJournal<Row>(path, "explore", SETTINGS);
  for (const row of rows) await journal.append(row);
  journal.close();
}

const ROWS: Row[] = [
  { key: "a", fitness: 0.5 },
  { key: "b", fitness: 0.25 },
  { key: "c", fitness: 1 },
];

Deno.test("journal: a new file gets a header line, records follow one per line", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    const opened = await openJournal<Row>(path, "explore", SETTINGS);
    assert.equal(opened.resumed, false);
    assert.deepEqual(opened.records, []);
    assert.equal(opened.journal.path, path);
    await opened.journal.append(ROWS[0]);
    await opened.journal.append({ key: "nan", fitness: NaN });
    opened.journal.close();

    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.length, 4); // header, 2 records, "" after the final newline
    assert.equal(lines[3], "");
    const header = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(header), ["type", "kind", "version", "settings", "created"]);
    assert.equal(header.type, "header");
    assert.equal(header.kind, "explore");
    assert.equal(header.version, 1);
    assert.deepEqual(header.settings, SETTINGS);
    assert.ok(!Number.isNaN(Date.parse(header.created)));
    assert.deepEqual(JSON.parse(lines[1]), ROWS[0]);
    assert.deepEqual(JSON.parse(lines[2]), { key: "nan", fitness: null });
  });
});

Deno.test("journal: reopening with equal settings (any key order) resumes with the records", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    await writeJournal(path, ROWS);
    const reordered = {
      space: "nb201",
      task: { level: 0.1, noise: "gaussian" },
      population: 50,
      seed: 1,
    };
    const opened = await openJournal<Row>(path, "explore", reordered);
    assert.equal(opened.resumed, true);
    assert.equal(opened.droppedPartialLine, false);
    assert.deepEqual(opened.records, ROWS);
    await opened.journal.append({ key: "d", fitness: 2 });
    opened.journal.close();

    const again = await openJournal<Row>(path, "explore", SETTINGS);
    again.journal.close();
    assert.deepEqual(again.records, [...ROWS, { key: "d", fitness: 2 }]);
  });
});

Deno.test("journal: different settings are refused, naming them, and the file is untouched", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    await writeJournal(path, ROWS);
    const before = await Deno.readFile(path);
    const requested = { ...SETTINGS, seed: 2, task: { noise: "uniform", level: 0.1 }, extra: true };
    await assert.rejects(
      openJournal<Row>(path, "explore", requested),
      (e: Error) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, /seed: journal 1, requested 2/);
        assert.match(e.message, /task\.noise: journal "gaussian", requested "uniform"/);
        assert.match(e.message, /extra: journal \(absent\), requested true/);
        assert.doesNotMatch(e.message, /population|level/);
        assert.match(e.message, /same settings to resume, or another --out/);
        return true;
      },
    );
    await assert.rejects(openJournal<Row>(path, "proxy-search", SETTINGS), /"explore"/);
    assert.deepEqual(await Deno.readFile(path), before);
  });
});

Deno.test("journal: a final line cut short is dropped and truncated away on resume", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    await writeJournal(path, ROWS);
    const complete = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, complete + '{"key":"d","fitn', { append: false });

    const opened = await openJournal<Row>(path, "explore", SETTINGS);
    assert.equal(opened.resumed, true);
    assert.equal(opened.droppedPartialLine, true);
    assert.deepEqual(opened.records, ROWS);
    assert.equal(await Deno.readTextFile(path), complete);
    await opened.journal.append({ key: "d", fitness: 3 });
    opened.journal.close();
    assert.equal(await Deno.readTextFile(path), complete + '{"key":"d","fitness":3}\n');
  });
});

Deno.test("journal: a header cut short is rewritten as a new journal", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    await Deno.writeTextFile(path, '{"type":"header","ki');
    const opened = await openJournal<Row>(path, "explore", SETTINGS);
    opened.journal.close();
    assert.equal(opened.resumed, false);
    assert.equal(JSON.parse((await Deno.readTextFile(path)).split("\n")[0]).kind, "explore");
  });
});

Deno.test("journal: a corrupt line in the middle is an InputError with its line number", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    await writeJournal(path, ROWS);
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines[2] = '{"key":"b",'; // line 3 of the file
    await Deno.writeTextFile(path, lines.join("\n"));
    const before = await Deno.readFile(path);
    await assert.rejects(
      openJournal<Row>(path, "explore", SETTINGS),
      (e: Error) => e instanceof InputError && /line 3 /.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(path), before);
  });
});

Deno.test("journal: a file that is not a journal, or a missing directory, is an InputError", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/table.csv`;
    await Deno.writeTextFile(csv, "arch,acc\n1,2\n");
    await assert.rejects(
      openJournal<Row>(csv, "explore", SETTINGS),
      (e: Error) => e instanceof InputError && /not a gennas journal/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(csv), "arch,acc\n1,2\n");
    await assert.rejects(
      openJournal<Row>(`${dir}/missing/run.jsonl`, "explore", SETTINGS),
      (e: Error) => e instanceof InputError && /does not exist/.test(e.message),
    );
  });
});

Deno.test("journal: concurrent appends land whole and in call order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    const { journal } = await openJournal<Row>(path, "explore", SETTINGS);
    const rows = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, fitness: i }));
    await Promise.all(rows.map((row) => journal.append(row)));
    journal.close();
    await assert.rejects(journal.append(rows[0]), /closed/);
    const reopened = await openJournal<Row>(path, "explore", SETTINGS);
    reopened.journal.close();
    assert.deepEqual(reopened.records, rows);
  });
});

Deno.test("journal: a journal held by a run is refused at once and untouched until closed", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    const first = await openJournal<Row>(path, "explore", SETTINGS);
    await first.journal.append(ROWS[0]);
    const before = await Deno.readFile(path);
    await assert.rejects(
      openJournal<Row>(path, "explore", SETTINGS),
      (e: Error) => {
        assert.ok(e instanceof JournalLockedError && e instanceof InputError);
        assert.ok(e.message.includes(path), e.message);
        assert.match(e.message, /another gennas run holds it/);
        return true;
      },
    );
    assert.deepEqual(await Deno.readFile(path), before);
    await first.journal.append(ROWS[1]);
    first.journal.close();
    const again = await openJournal<Row>(path, "explore", SETTINGS);
    again.journal.close();
    assert.deepEqual(again.records, ROWS.slice(0, 2));
  });
});

Deno.test("journal: two runs creating one journal at once: one gets it, one header is written", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/run.jsonl`;
    const opened = await Promise.allSettled([
      openJournal<Row>(path, "explore", SETTINGS),
      openJournal<Row>(path, "explore", SETTINGS),
    ]);
    const winners = opened.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    const losers = opened.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
    assert.equal(winners.length, 1);
    assert.ok(losers[0] instanceof JournalLockedError);
    await winners[0].journal.append(ROWS[0]);
    winners[0].journal.close();
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.length, 3); // header, the record, "" after the final newline
    assert.equal(JSON.parse(lines[0]).type, "header");
    assert.deepEqual(JSON.parse(lines[1]), ROWS[0]);
  });
});

Deno.test("journal: deepEqual and settingDifferences ignore key order and recurse", () => {
  assert.ok(deepEqual({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] }));
  assert.ok(!deepEqual({ a: [1, 2] }, { a: [2, 1] }));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.deepEqual(settingDifferences({ x: { y: 1, z: [1] } }, { x: { z: [1], y: 2 } }), [
    "x.y: journal 1, requested 2",
  ]);
});

Deno.test("automatic journals: same settings → same file (resume), other settings → another", async () => {
  const { autoJournalPath, journalPath } = await import("../src/util/journal.ts");
  const a = autoJournalPath("search", "nb201", { population: 50, seed: 0, proxy: { lr: 0.1 } });
  assert.equal(
    a,
    autoJournalPath("search", "nb201", { seed: 0, proxy: { lr: 0.1 }, population: 50 }),
  );
  assert.notEqual(
    a,
    autoJournalPath("search", "nb201", { population: 50, seed: 1, proxy: { lr: 0.1 } }),
  );
  assert.match(a, /^gennas-runs\/search-nb201-[0-9a-f]{8}\.jsonl$/);
  assert.equal(await journalPath("given.jsonl", "search", "nb201", {}), "given.jsonl");
  assert.equal(await journalPath(undefined, "search", "nb201", {}), undefined);
});
