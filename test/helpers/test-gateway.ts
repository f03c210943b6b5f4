import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig, type Config } from "../../src/config/options.js";
import { createGateway, type Gateway } from "../../src/main.js";

export interface TestGateway {
  url: string;
  gateway: Gateway;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A real gateway on 127.0.0.1 with a free port, a fresh data directory and silent logs.
 * @example const gw = await startTestGateway({ upstream: upstreamServer.url + "/simple/" })
 */
export async function startTestGateway(
  overrides: Partial<Record<keyof Config, unknown>> & { upstream: string },
  opts: { now?: () => number; keepData?: boolean; auditQueueRecords?: number } = {},
): Promise<TestGateway> {
  const dataDir = (overrides.data as string | undefined) ?? mkdtempSync(join(tmpdir(), "portcullis-gw-"));
  const config = loadConfig({
    env: {},
    // No scheduled intel sync: tests never reach for the network.
    flags: {
      host: "127.0.0.1",
      port: 0,
      logLevel: "silent",
      shutdownGrace: 5,
      intelSync: "",
      ...overrides,
      data: dataDir,
    },
  });
  const gateway = await createGateway(config, {
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.auditQueueRecords ? { auditQueueRecords: opts.auditQueueRecords } : {}),
    logger: pino({ level: process.env.PORTCULLIS_TEST_LOG ?? "silent" }),
  });
  const url = await gateway.listen();
  return {
    url,
    gateway,
    dataDir,
    close: async () => {
      await gateway.close();
      if (!opts.keepData && !overrides.data) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
