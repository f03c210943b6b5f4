import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDatabase } from "./connect-database.js";

test("a new SQLite database is readable by its owner only; an existing one keeps its mode", async () => {
  const dir = mkdtempSync(join(tmpdir(), "db-mode-"));
  try {
    const handle = await connectDatabase({ url: "", dataDir: join(dir, "data") });
    await handle.close();
    assert.equal(statSync(join(dir, "data", "portcullis.db")).mode & 0o777, 0o600);

    const chosen = join(dir, "chosen.db");
    writeFileSync(chosen, "");
    chmodSync(chosen, 0o640);
    const other = await connectDatabase({ url: `sqlite:${chosen}`, dataDir: dir });
    await other.close();
    assert.equal(statSync(chosen).mode & 0o777, 0o640, "the owner's choice stays");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
