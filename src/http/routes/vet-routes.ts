import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseRequirement } from "../../domain/requirement.js";
import { GatewayError } from "../../services/gateway-error.js";
import { parseTarget } from "../../services/resolver/target-environment.js";
import { DEFAULT_VET_TARGETS, vetForTargets } from "../../services/vet.js";
import type { PolicyCandidateSource } from "../../services/vet.js";

const vetBody = z
  .object({
    requirements: z.array(z.string().min(1).max(8192)).min(1).max(500),
    python: z.string().max(10).optional(),
    platform: z.string().max(40).optional(),
    targets: z
      .array(
        z.object({ python: z.string().max(10).optional(), platform: z.string().max(40).optional() }).strict(),
      )
      .max(20)
      .optional(),
  })
  .strict();

/** `POST /api/v1/vet`: the same judgement as `portcullis vet`, for CLIs talking to a gateway. */
export function registerVetRoutes(
  app: FastifyInstance,
  deps: ConstructorParameters<typeof PolicyCandidateSource>[0],
): void {
  app.post("/api/v1/vet", async (req, reply) => {
    const parsed = vetBody.safeParse(req.body);
    const bad = (message: string) => reply.code(400).send({ error: { code: "INVALID_REQUEST", message } });
    if (!parsed.success)
      return bad(`${parsed.error.issues[0]!.path.join(".")}: ${parsed.error.issues[0]!.message}`);
    const body = parsed.data;
    let targets;
    try {
      for (const r of body.requirements) parseRequirement(r);
      const named =
        body.targets ??
        (body.python || body.platform ? [{ python: body.python, platform: body.platform }] : []);
      targets = named.length
        ? named.map((t) =>
            parseTarget({
              ...(t.python ? { python: t.python } : {}),
              ...(t.platform ? { platform: t.platform } : {}),
            }),
          )
        : DEFAULT_VET_TARGETS;
    } catch (err) {
      return bad((err as Error).message);
    }
    try {
      return reply.send(await vetForTargets(deps, body.requirements, targets));
    } catch (err) {
      if (err instanceof GatewayError)
        return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      throw err;
    }
  });
}
