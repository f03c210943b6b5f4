import type { Logger } from "pino";
import type { DecisionRepository } from "../adapters/db/decision-repository.js";
import { compareVersions, isPrerelease } from "../domain/version.js";
import type { FileAccessService } from "./file-access.js";
import type { ProjectView } from "./project-index.js";

/**
 * Judges new releases of catalog projects in the background, so that the user who first asks
 * for them rarely waits for the download and the byte checks. A project is in the catalog once
 * any of its files was judged on its bytes; only its newest final release is pre-vetted.
 */
export class PreVetter {
  private readonly queue: { sha256: string; filename: string }[] = [];
  private readonly queued = new Set<string>();
  private running = false;
  private stopped = false;

  constructor(
    private readonly deps: {
      access: FileAccessService;
      decisions: DecisionRepository;
      log: Logger;
      /** Files per release to pre-vet (wheels first). */
      filesPerRelease?: number;
      /** Most files waiting at once; beyond it new work is dropped (it runs on demand instead). */
      maxQueue?: number;
    },
  ) {}

  /** Called with each new raw page; cheap when nothing is to do. */
  schedule(view: ProjectView): void {
    if (this.stopped || view.files.length === 0) return;
    void this.pick(view).catch((err: Error) =>
      this.deps.log.warn({ err: err.message, project: view.normalized }, "pre-vet scheduling failed"),
    );
  }

  private async pick(view: ProjectView): Promise<void> {
    const judged = await this.deps.decisions.byProject(view.normalized);
    if (!judged.some((d) => d.stage === "full")) return;
    const finals = [...new Set(view.files.map((f) => f.version))].filter((v) => v && !isPrerelease(v));
    const newest = finals.sort(compareVersions).at(-1);
    if (!newest) return;
    const known = new Set(judged.filter((d) => d.stage === "full").map((d) => d.sha256));
    const files = view.files
      .filter((f) => f.version === newest && !known.has(f.sha256) && !this.queued.has(f.sha256))
      .sort((a, b) => Number(b.filename.endsWith(".whl")) - Number(a.filename.endsWith(".whl")))
      .slice(0, this.deps.filesPerRelease ?? 2);
    for (const f of files) {
      if (this.queue.length >= (this.deps.maxQueue ?? 1000)) return;
      this.queued.add(f.sha256);
      this.queue.push({ sha256: f.sha256, filename: f.filename });
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const next = this.queue.shift()!;
        try {
          await this.deps.access.open(next.sha256, next.filename);
          this.deps.log.info({ event: "pre_vetted", file: next.filename }, "new release pre-vetted");
        } catch (err) {
          // A refusal is the point of pre-vetting; it is stored with the decision. Others are logged.
          if ((err as { code?: string }).code !== "POLICY_REFUSED") {
            this.deps.log.warn(
              { file: next.filename, err: (err as Error).message },
              "pre-vet failed; it will run on demand",
            );
          }
        } finally {
          this.queued.delete(next.sha256);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Waits for the queue to empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((r) => setTimeout(r, 10));
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }
}
