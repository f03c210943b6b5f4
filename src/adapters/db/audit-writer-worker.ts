/**
 * The audit writer thread's entry (see audit-writer-thread.ts): its own connection to the
 * gateway's database, on which it chains and stores the batches the main thread posts, in order,
 * with their inventory deltas and signed checkpoints, exactly as the inline writer does.
 */
import { sign, type KeyObject } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import type { EncodedAuditBatch } from "../../services/audit/audit-batch-codec.js";
import type { CheckpointPolicy } from "../../services/audit/audit-writer.js";
import { inlineAuditWriter, type AuditStorage } from "../../services/audit/audit-writer.js";
import { ownThreadId } from "../runtime/thread-priority.js";
import { AuditRepository, type CheckpointSigner } from "./audit-repository.js";
import { connectDatabase, type DatabaseLocation } from "./connect-database.js";

export interface AuditWriterInit {
  database: DatabaseLocation;
  key: { keyid: string; privateKey: KeyObject; publicKeyPem: string };
  /** How the trail is stored (default rows). */
  storage?: AuditStorage;
}

export type AuditWriterRequest =
  | { type: "write"; id: number; batch: EncodedAuditBatch; checkpoint: CheckpointPolicy; hashes: boolean }
  | { type: "close" };

export type AuditWriterReply =
  /** First, as the thread starts: its kernel thread id (Linux), whose CPU policy the parent sets. */
  | { type: "started"; tid: number | undefined }
  /** `hashes` only when asked for (the trail has sinks that take the chained records). */
  | {
      type: "written";
      id: number;
      written: number;
      firstSeq: number;
      prevHash: string;
      hashes?: string[];
      /** Stored as one block (`audit.storage batches`): the hash every record of it carries. */
      blockHash?: string;
    }
  | { type: "failed"; id: number; message: string };

const port = parentPort;
if (!port) throw new Error("audit-writer-worker runs as a worker thread only");
const init = workerData as AuditWriterInit;
port.postMessage({ type: "started", tid: ownThreadId() } satisfies AuditWriterReply);
const handle = await connectDatabase({ ...init.database, migrate: false });
const signer: CheckpointSigner = {
  sign: (message) => ({
    keyid: init.key.keyid,
    publicKeyPem: init.key.publicKeyPem,
    signature: sign(null, message, init.key.privateKey).toString("base64"),
  }),
};
const storage = init.storage ?? "rows";
const writer = inlineAuditWriter(new AuditRepository(handle.db, handle.dialect), signer, storage);

// One request at a time, in the order posted: the chain continues batch after batch.
let queue = Promise.resolve();
port.on("message", (msg: AuditWriterRequest) => {
  queue = queue.then(() => (msg.type === "write" ? write(msg) : close()));
});

async function write(msg: Extract<AuditWriterRequest, { type: "write" }>): Promise<void> {
  let reply: AuditWriterReply;
  try {
    if (storage === "batches") {
      // The parent numbers and hashes the records it kept (see ThreadAuditWriter.settle).
      const { written, block } = await writer.write(msg.batch, msg.checkpoint, false);
      reply = {
        type: "written",
        id: msg.id,
        written,
        firstSeq: block?.firstSeq ?? 0,
        prevHash: block?.prevHash ?? "",
        ...(block ? { blockHash: block.hash } : {}),
      };
      port!.postMessage(reply);
      return;
    }
    const { written, chained = [] } = await writer.write(msg.batch, msg.checkpoint, true);
    reply = {
      type: "written",
      id: msg.id,
      written,
      firstSeq: chained[0]?.seq ?? 0,
      prevHash: chained[0]?.prev_hash ?? "",
      ...(msg.hashes ? { hashes: chained.map((r) => r.hash) } : {}),
    };
  } catch (err) {
    reply = { type: "failed", id: msg.id, message: (err as Error).message };
  }
  port!.postMessage(reply);
}

async function close(): Promise<void> {
  await handle.close();
  port!.close();
}
