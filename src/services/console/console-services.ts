import type { CoreServices } from "../../main.js";
import { ConsoleRepository } from "../../adapters/db/console-repository.js";
import { RequestRepository } from "../../adapters/db/request-repository.js";
import type { IdentityServices } from "../identity/identity-services.js";
import type { GovernanceServices } from "../governance/governance-services.js";
import type { ProofServices } from "../proof/proof-services.js";
import type { DiscoveryServices } from "../discovery/discovery-services.js";
import { ConsoleReadService } from "./console-read-service.js";
import { RequestService } from "./request-service.js";

/** The services of the requests and approvals feature and the console's read API. */
export interface ConsoleServices {
  consoleRepo: ConsoleRepository;
  consoleRead: ConsoleReadService;
  requestRepo: RequestRepository;
  requests: RequestService;
}

/**
 * Builds the requests and approvals services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
export async function buildConsoleServices(
  deps: CoreServices & IdentityServices & GovernanceServices & ProofServices & DiscoveryServices,
): Promise<ConsoleServices> {
  const consoleRepo = new ConsoleRepository(deps.db.db);
  const requestRepo = new RequestRepository(deps.db.db);
  const consoleRead = new ConsoleReadService({
    consoleRepo,
    repo: deps.repo,
    decisions: deps.decisions,
    policy: deps.policy,
    owners: deps.owners,
    ownersOf: (projects) => deps.identity.ownersOf(projects),
    inventory: deps.inventory,
    pendingRequests: () => requestRepo.countByState("pending"),
    now: deps.now,
  });
  const requests = new RequestService({
    requests: requestRepo,
    vet: { projects: deps.projects, policy: deps.policy, access: deps.access, decisions: deps.decisions },
    decisions: deps.decisions,
    policy: deps.policy,
    audit: deps.audit,
    owners: deps.owners,
    events: deps.events,
    now: deps.now,
    provenance: deps.provenance,
  });
  return { consoleRepo, consoleRead, requestRepo, requests };
}
