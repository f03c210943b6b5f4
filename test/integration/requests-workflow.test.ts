/**
 * Requests and approvals over a real gateway: a loopback upstream, synthetic wheels, real
 * popular-project intel (typo-squat check), tokens of each role.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";
import { sharedDataDir } from "../helpers/shared-data.js";
import { DIALECTS, dialectSkip, gatewayDatabase, openTestDatabase } from "../helpers/databases.js";
import { sql } from "kysely";
import { RequestRepository, type NewRequest } from "../../src/adapters/db/request-repository.js";
import { up as onePendingRequest } from "../../src/adapters/db/migrations/0011-pending-request-once.js";
import { bearer, createToken, flushAudit } from "../helpers/identity.js";
import type { GatewayEvent } from "../../src/services/event-bus.js";

const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
/** Typo-squats of popular projects, one per round of an approval racing a denial. */
const RACERS = ["pandass", "certifii", "urllib33", "botocoree", "packagingg", "charset-normalizerr"];

interface RequestBody {
  id: number;
  state: string;
  project: string;
  version: string | null;
  requester: string;
  decidedBy: string | null;
  exceptions: { sha256?: string; version?: string; checks?: string[]; expiresAt: string }[];
  report: {
    ok: boolean;
    treeScore: number;
    files: {
      project: string;
      outcome: string;
      reasons: { check: string; evidence: unknown[] }[];
      popularity: unknown;
      provenance: { status: string } | null;
    }[];
    rejected: { project: string; version: string }[];
  };
  remaining?: unknown[];
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  describe(`requests and approvals (${dialect})`, { skip }, () => {
    let database: Awaited<ReturnType<typeof gatewayDatabase>> | undefined;
    let upstream: JsonIndexServer;
    let gw: TestGateway;
    const wheels: Record<string, BuiltArtifact> = {};
    const tokens: Record<string, string> = {};
    const events: GatewayEvent[] = [];

    before(async () => {
      const old = new Date(T0 - 400 * DAY).toISOString();
      wheels.app = await buildWheel({ name: "zqxwv-app", version: "1.0", requiresDist: ["zqxwv-core>=1"] });
      wheels.lib = await buildWheel({ name: "zqxwv-core", version: "1.2" });
      // One edit from `requests`, the most popular project: quarantined as a typo-squat.
      wheels.squat = await buildWheel({ name: "reqeusts", version: "2.0" });
      wheels.other = await buildWheel({ name: "numpyy", version: "1.0" });
      wheels.cli = await buildWheel({ name: "djangoo", version: "3.0" });
      wheels.granted = await buildWheel({ name: "flaskk", version: "1.0" });
      wheels.checked = await buildWheel({ name: "setuptoolss", version: "1.0" });
      for (const name of RACERS) wheels[name] = await buildWheel({ name, version: "1.0" });
      // Typo-squats for separation of duties, denial revoking exceptions and duplicate requests.
      wheels.own = await buildWheel({ name: "pyyamll", version: "1.0" });
      wheels.adminOwn = await buildWheel({ name: "attrss", version: "1.0" });
      wheels.revoked = await buildWheel({
        name: "typing-extensionss",
        version: "1.0",
        requiresDist: ["cryptographyy>=1"],
      });
      wheels.revokedDep = await buildWheel({ name: "cryptographyy", version: "1.0" });
      wheels.twice = await buildWheel({ name: "clickk", version: "1.0" });
      wheels.raced = await buildWheel({ name: "pytestt", version: "1.0" });
      const file = (w: BuiltArtifact) => ({ filename: w.filename, bytes: w.bytes, uploadTime: old });
      upstream = await startJsonIndexServer({
        projects: {
          "zqxwv-app": { files: [file(wheels.app)] },
          "zqxwv-core": { files: [file(wheels.lib)] },
          reqeusts: { files: [file(wheels.squat)] },
          numpyy: { files: [file(wheels.other)] },
          djangoo: { files: [file(wheels.cli!)] },
          flaskk: { files: [file(wheels.granted!)] },
          setuptoolss: { files: [file(wheels.checked!)] },
          ...Object.fromEntries(RACERS.map((name) => [name, { files: [file(wheels[name]!)] }])),
          pyyamll: { files: [file(wheels.own!)] },
          attrss: { files: [file(wheels.adminOwn!)] },
          "typing-extensionss": { files: [file(wheels.revoked!)] },
          cryptographyy: { files: [file(wheels.revokedDep!)] },
          clickk: { files: [file(wheels.twice!)] },
          pytestt: { files: [file(wheels.raced!)] },
        },
      });
      database = await gatewayDatabase(dialect);
      gw = await startTestGateway(
        { upstream: upstream.simpleUrl, authAnonymous: "off", database: database.url },
        { now: () => T0 },
      );
      await gw.gateway.intel.importSource(join(sharedDataDir(), "top-pypi-packages.json"));
      await gw.gateway.policy.refresh();
      for (const role of ["reader", "requester", "approver", "admin"] as const)
        tokens[role] = await createToken(gw, { user: `${role}-user`, role, team: `${role}-team` });
      gw.gateway.services.events.subscribe((e) => {
        events.push(e);
      });
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
      await database?.drop();
    });

    const call = async (method: string, path: string, role: string | undefined, body?: unknown) => {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: {
          ...(role ? bearer(tokens[role]!) : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as RequestBody & { error?: { code: string } } };
    };

    test("a request policy admits whole (with its dependency) is approved at once", async () => {
      const { status, body } = await call("POST", "/api/v1/requests", "requester", {
        project: "Zqxwv_App",
        reason: "for the reports pipeline",
      });
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.state, "approved", JSON.stringify(body.report));
      assert.equal(body.project, "zqxwv-app");
      assert.equal(body.decidedBy, "policy");
      assert.equal(body.requester, "requester-user");
      assert.deepEqual(body.report.files.map((f) => f.project).sort(), ["zqxwv-app", "zqxwv-core"]);
      assert.ok(
        body.report.files.every((f) => f.outcome === "admitted"),
        JSON.stringify(body.report.files.map((f) => f.outcome)),
      );
      // The loopback upstream publishes no PEP 740 provenance: the report says it was looked for.
      assert.deepEqual(
        body.report.files.map((f) => f.provenance?.status),
        ["absent", "absent"],
      );
      assert.equal(body.exceptions.length, 0);
      assert.ok(
        events.some((e) => e.type === "request.approved" && e.requestId === body.id),
        "request.approved is published",
      );
      // The requester's team owns the project now.
      assert.equal(await gw.gateway.services.owners.ownerOf("zqxwv-app"), "requester-team");
    });

    test("a typo-squat waits with its findings; an approver's approval makes the file installable", async () => {
      const created = await call("POST", "/api/v1/requests", "requester", {
        project: "reqeusts",
        version: "2.0",
        reason: "vendor SDK needs it",
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.state, "pending");
      assert.equal(created.body.report.ok, false);
      const refused = created.body.report.files.length
        ? created.body.report.files.find((f) => f.project === "reqeusts")!.reasons
        : [];
      assert.ok(
        created.body.report.rejected.some((r) => r.project === "reqeusts") ||
          refused.some((r) => r.check === "typosquat"),
        JSON.stringify(created.body.report),
      );
      assert.ok(
        events.some((e) => e.type === "request.pending" && e.requestId === created.body.id),
        "request.pending is published",
      );
      const download = () =>
        fetch(`${gw.url}/files/${wheels.squat!.sha256}/${wheels.squat!.filename}`, {
          headers: bearer(tokens.reader!),
        });
      await fetch(`${gw.url}/simple/reqeusts/`, { headers: bearer(tokens.reader!) });
      assert.equal((await download()).status, 403);

      const queue = await call("GET", "/api/v1/requests?state=pending", "reader");
      assert.equal(queue.status, 200);
      assert.deepEqual(
        (queue.body as unknown as { items: { id: number }[] }).items.map((r) => r.id),
        [created.body.id],
      );

      const approved = await call("POST", `/api/v1/requests/${created.body.id}/approve`, "approver", {
        reason: "vendor confirmed the name",
        ticket: "SEC-42",
      });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.state, "approved");
      assert.equal(approved.body.exceptions.length, 1);
      assert.deepEqual(approved.body.exceptions[0]!.checks, ["typosquat"]);
      assert.equal(approved.body.exceptions[0]!.expiresAt, new Date(T0 + 90 * DAY).toISOString());
      const res = await download();
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), wheels.squat!.bytes);
      assert.ok(
        events.some((e) => e.type === "request.approved" && e.requestId === created.body.id),
        "request.approved is published",
      );

      // Decided requests cannot be decided again.
      const again = await call("POST", `/api/v1/requests/${created.body.id}/deny`, "approver", {
        reason: "late",
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.error?.code, "CONFLICT");
    });

    test("readers and requesters cannot approve or deny; a denial grants nothing", async () => {
      const created = await call("POST", "/api/v1/requests", "requester", {
        project: "numpyy",
        reason: "typo?",
      });
      assert.equal(created.body.state, "pending", JSON.stringify(created.body));
      for (const role of ["reader", "requester"]) {
        for (const action of ["approve", "deny"]) {
          const res = await call("POST", `/api/v1/requests/${created.body.id}/${action}`, role, {
            reason: "me",
          });
          assert.equal(res.status, 403, `${role} ${action}`);
          assert.equal(res.body.error?.code, "FORBIDDEN");
        }
      }
      const reader = await call("POST", "/api/v1/requests", "reader", { project: "numpyy", reason: "x" });
      assert.equal(reader.status, 403);
      const denied = await call("POST", `/api/v1/requests/${created.body.id}/deny`, "admin", {
        reason: "it is a squat",
      });
      assert.equal(denied.status, 200);
      assert.equal(denied.body.state, "denied");
      assert.equal(denied.body.exceptions.length, 0);
      assert.equal((await gw.gateway.decisions.exceptions()).filter((e) => e.project === "numpyy").length, 0);
      await flushAudit(gw);
    });

    test("an approver grants an exact-file exception for the refused check; the request is approved", async () => {
      const created = await call("POST", "/api/v1/requests", "requester", {
        project: "flaskk",
        reason: "fork",
      });
      assert.equal(created.body.state, "pending", JSON.stringify(created.body.report));
      const outside = await call("POST", `/api/v1/requests/${created.body.id}/exception`, "approver", {
        project: "zqxwv-app",
        version: "1.0",
        reason: "not in this tree",
      });
      assert.equal(outside.status, 400);
      const both = await call("POST", `/api/v1/requests/${created.body.id}/exception`, "approver", {
        version: "1.0",
        sha256: wheels.granted!.sha256,
        reason: "x",
      });
      assert.equal(both.status, 400);
      const granted = await call("POST", `/api/v1/requests/${created.body.id}/exception`, "approver", {
        sha256: wheels.granted!.sha256,
        checks: ["typosquat"],
        reason: "our internal fork",
        ticket: "SEC-9",
        expiresAt: new Date(T0 + 30 * DAY).toISOString(),
      });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.equal(granted.body.state, "approved");
      assert.deepEqual(
        granted.body.exceptions.map((e) => [e.sha256, e.checks]),
        [[wheels.granted!.sha256, ["typosquat"]]],
      );
      assert.ok(
        events.some((e) => e.type === "request.exception" && e.requestId === created.body.id),
        "request.exception is published",
      );
    });

    const download = (w: BuiltArtifact) =>
      fetch(`${gw.url}/files/${w.sha256}/${w.filename}`, { headers: bearer(tokens.reader!) });

    test("an approval racing a denial either wins whole or grants nothing", async () => {
      for (const [round, name] of RACERS.entries()) {
        const wheel = wheels[name]!;
        const created = await call("POST", "/api/v1/requests", "requester", {
          project: name,
          reason: "race",
        });
        assert.equal(created.body.state, "pending", JSON.stringify(created.body));
        await fetch(`${gw.url}/simple/${name}/`, { headers: bearer(tokens.reader!) });
        const id = created.body.id;
        // Odd rounds: three approvers at once against one denial; every other pair of rounds the
        // denial is sent first, so that both sides win some rounds.
        const approvers = round % 2 === 0 ? 1 : 3;
        const denyFirst = Math.floor(round / 2) % 2 === 1;
        const deny = () => call("POST", `/api/v1/requests/${id}/deny`, "admin", { reason: "a squat" });
        const approve = () =>
          call("POST", `/api/v1/requests/${id}/approve`, "approver", { reason: "vendor confirmed" });
        const sent: ReturnType<typeof call>[] = [];
        if (denyFirst) sent.push(deny());
        for (let i = 0; i < approvers; i++) sent.push(approve());
        if (!denyFirst) sent.push(deny());
        const results = await Promise.all(sent);
        const denial = results.splice(denyFirst ? 0 : -1, 1)[0]!;
        const request = await call("GET", `/api/v1/requests/${id}`, "reader");
        const inForce = (await gw.gateway.decisions.exceptions()).filter((e) => e.project === name);
        const statuses = JSON.stringify({ approvals: results.map((r) => r.status), denial: denial.status });
        if (request.body.state === "denied") {
          assert.equal(denial.status, 200, statuses);
          assert.deepEqual(
            results.map((r) => r.status),
            results.map(() => 409),
            `every approval lost: ${statuses}`,
          );
          assert.deepEqual(inForce, [], `round ${round}: a denied request leaves no exception in force`);
          assert.deepEqual(request.body.exceptions, []);
          assert.equal((await download(wheel)).status, 403, `round ${round}: the file stays refused`);
        } else {
          assert.equal(request.body.state, "approved", `round ${round}: ${statuses}`);
          assert.equal(denial.status, 409, statuses);
          assert.equal(results.filter((r) => r.status === 200).length, 1, `one approval wins: ${statuses}`);
          assert.equal(inForce.length, 1, `round ${round}: one exception, not one per approver`);
          assert.deepEqual(
            request.body.exceptions.map((e) => e.sha256),
            [wheel.sha256],
          );
          assert.equal((await download(wheel)).status, 200, `round ${round}: the approved file is served`);
        }
      }
    });

    test("an exception names a version of the tree, known checks and a bounded expiry; granted once", async () => {
      const created = await call("POST", "/api/v1/requests", "requester", {
        project: "setuptoolss",
        version: "1.0",
        reason: "build tooling",
      });
      assert.equal(created.body.state, "pending", JSON.stringify(created.body));
      const id = created.body.id;
      const exception = (body: Record<string, unknown>) =>
        call("POST", `/api/v1/requests/${id}/exception`, "approver", { reason: "checked", ...body });
      const refused = async (
        res: Promise<{ status: number; body: { error?: { code: string; message?: string } } }>,
        message: RegExp,
      ) => {
        const { status, body } = await res;
        assert.equal(status, 400, JSON.stringify(body.error ?? "no error"));
        assert.equal(body.error?.code, "VALIDATION");
        assert.match(body.error?.message ?? "", message);
      };
      await refused(exception({ version: "<script>" }), /not a valid PEP 440 version/);
      await refused(exception({ version: "not a version!" }), /not a valid PEP 440 version/);
      await refused(exception({ version: "9.9.9" }), /setuptoolss 9\.9\.9 is not part of request \d+'s tree/);
      const known = /the checks are vulnerability, malicious, typosquat, .*provenance/;
      await refused(
        exception({ version: "1.0", checks: ["no-such-check"] }),
        /unknown check "no-such-check"/,
      );
      await refused(exception({ version: "1.0", checks: ["Vulnerability"] }), known);
      await refused(exception({ version: "1.0", checks: [] }), /checks is empty/);
      await refused(
        exception({ version: "1.0", checks: ["artifact"] }),
        /the artifact check is waived for one exact file \(sha256\), never for a whole version/,
      );
      await refused(
        exception({ version: "1.0", expiresAt: "9999-12-31T00:00:00Z" }),
        /an exception lasts at most 366 days/,
      );
      await refused(
        call("POST", `/api/v1/requests/${id}/approve`, "approver", {
          reason: "for ever",
          expiresAt: "9999-12-31T00:00:00Z",
        }),
        /an exception lasts at most 366 days/,
      );
      const inForce = async () =>
        (await gw.gateway.decisions.exceptions()).filter((e) => e.project === "setuptoolss");
      assert.deepEqual(await inForce(), [], "nothing refused was granted");

      const grant = { version: "1.0", checks: ["licence"], expiresAt: new Date(T0 + 30 * DAY).toISOString() };
      const first = await exception(grant);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // A licence waiver leaves the typo-squat refused: the request waits.
      assert.equal(first.body.state, "pending");
      const second = await exception(grant);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      // PEP 440 spells 1.0 also 1.0.0; the exception keeps the tree's spelling, which the engine matches.
      const respelled = await exception({ ...grant, version: "1.0.0" });
      assert.equal(respelled.status, 200, JSON.stringify(respelled.body));
      const rows = await inForce();
      assert.deepEqual(
        rows.map((e) => [e.version, e.checks]),
        [["1.0", ["licence"]]],
        "an identical grant returns the exception in force instead of a duplicate",
      );
      assert.deepEqual(
        respelled.body.exceptions.map((e) => e.version),
        ["1.0"],
      );
      // A version exception listing no checks still waives no malicious report: a later grant
      // naming `malicious` is granted, not answered with the all-checks one that cannot waive it.
      await gw.gateway.decisions.addException(
        {
          project: "setuptoolss",
          version: "1.0",
          reason: "all checks",
          approver: "sec",
          "expires-at": grant.expiresAt,
        },
        new Date(T0).toISOString(),
      );
      const named = await exception({ version: "1.0", checks: ["malicious"], expiresAt: grant.expiresAt });
      assert.equal(named.status, 200, JSON.stringify(named.body));
      assert.deepEqual(
        (await inForce()).map((e) => e.checks ?? "all"),
        [["licence"], "all", ["malicious"]],
        "the malicious waiver is its own exception",
      );
    });

    test("separation of duties: nobody approves or waives their own request, admins included", async () => {
      const own = await call("POST", "/api/v1/requests", "approver", { project: "pyyamll", reason: "mine" });
      assert.equal(own.body.state, "pending", JSON.stringify(own.body));
      const approve = await call("POST", `/api/v1/requests/${own.body.id}/approve`, "approver", {
        reason: "looks fine to me",
      });
      assert.equal(approve.status, 403, JSON.stringify(approve.body));
      assert.equal(approve.body.error?.code, "FORBIDDEN");
      assert.match(JSON.stringify(approve.body), /separation of duties/);
      const waive = await call("POST", `/api/v1/requests/${own.body.id}/exception`, "approver", {
        sha256: wheels.own!.sha256,
        reason: "mine",
      });
      assert.equal(waive.status, 403, JSON.stringify(waive.body));
      assert.equal(
        (await gw.gateway.decisions.exceptions()).filter((e) => e.project === "pyyamll").length,
        0,
        "a refused self-approval grants nothing",
      );
      const other = await call("POST", `/api/v1/requests/${own.body.id}/approve`, "admin", {
        reason: "second pair of eyes",
      });
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal(other.body.state, "approved");

      const adminOwn = await call("POST", "/api/v1/requests", "admin", { project: "attrss", reason: "mine" });
      assert.equal(adminOwn.body.state, "pending");
      const adminApprove = await call("POST", `/api/v1/requests/${adminOwn.body.id}/approve`, "admin", {
        reason: "I am admin",
      });
      assert.equal(adminApprove.status, 403, JSON.stringify(adminApprove.body));
      const withdrawn = await call("POST", `/api/v1/requests/${adminOwn.body.id}/deny`, "admin", {
        reason: "not needed after all",
      });
      assert.equal(withdrawn.status, 200, "denying one's own request withdraws it");
      assert.equal(withdrawn.body.state, "denied");
      await flushAudit(gw);
      const refusals = await gw.gateway.services.auditLog.query({
        action: "request.approve",
        outcome: "denied",
        limit: 10,
        order: "asc",
      });
      assert.equal(refusals.length, 2, "each refused self-approval is audited");
    });

    test("denying a request revokes the exceptions granted through it while pending", async () => {
      const created = await call("POST", "/api/v1/requests", "requester", {
        project: "typing-extensionss",
        reason: "typing backports",
      });
      assert.equal(created.body.state, "pending", JSON.stringify(created.body));
      const granted = await call("POST", `/api/v1/requests/${created.body.id}/exception`, "approver", {
        sha256: wheels.revoked!.sha256,
        reason: "our fork",
      });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.equal(granted.body.state, "pending", "its dependency is still refused");
      assert.equal((await download(wheels.revoked!)).status, 200, "the exception is in force");
      const denied = await call("POST", `/api/v1/requests/${created.body.id}/deny`, "admin", {
        reason: "not a fork after all",
      });
      assert.equal(denied.status, 200, JSON.stringify(denied.body));
      assert.deepEqual(denied.body.exceptions, []);
      assert.deepEqual(
        (await gw.gateway.decisions.exceptions()).filter((e) => e.project === "typing-extensionss"),
        [],
        "the exception is gone",
      );
      assert.equal((await download(wheels.revoked!)).status, 403, "the file is refused again");
      await flushAudit(gw);
      const revokes = await gw.gateway.services.auditLog.query({
        action: "exception.revoke",
        limit: 10,
        order: "asc",
      });
      assert.equal(revokes.length, 1, "the revocation is audited");
    });

    test("asking again while the same request is pending answers the pending one", async () => {
      const first = await call("POST", "/api/v1/requests", "requester", { project: "clickk", reason: "cli" });
      assert.equal(first.status, 201);
      assert.equal(first.body.state, "pending");
      const again = await call("POST", "/api/v1/requests", "requester", {
        project: "Clickk",
        reason: "again",
      });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.id, first.body.id);
      const versioned = await call("POST", "/api/v1/requests", "requester", {
        project: "clickk",
        version: "1.0",
        reason: "pinned",
      });
      assert.equal(versioned.status, 201, "another version (or none vs. one) is another request");
      const spelled = await call("POST", "/api/v1/requests", "requester", {
        project: "clickk",
        version: "1.0.0",
        reason: "pinned, spelled otherwise",
      });
      assert.equal(spelled.status, 200, "1.0.0 is 1.0 (PEP 440): the same request");
      assert.equal(spelled.body.id, versioned.body.id);
      assert.equal(versioned.body.version, "1.0", "stored as the upstream spells it");
      const byOther = await call("POST", "/api/v1/requests", "approver", {
        project: "clickk",
        reason: "me too",
      });
      assert.equal(byOther.status, 201, "another requester's request is their own");
      const list = await call("GET", "/api/v1/requests?state=pending&limit=500", "reader");
      const mine = (list.body as unknown as { items: RequestBody[] }).items.filter(
        (r) => r.project === "clickk" && r.requester === "requester-user",
      );
      assert.equal(mine.length, 2, "one per project and version");
    });

    test("the same request posted several times at once creates one pending request", async () => {
      // Each post finds nothing pending, vets (long enough for the others to do the same), then
      // stores: the database lets one insert win and the others answer it.
      const posts = await Promise.all(
        Array.from({ length: 4 }, () =>
          call("POST", "/api/v1/requests", "requester", { project: "pytestt", reason: "progress bars" }),
        ),
      );
      assert.deepEqual(
        posts.map((p) => p.status).sort(),
        [200, 200, 200, 201],
        `one created, the others answered with it: ${JSON.stringify(posts.map((p) => p.body.error ?? p.body.id))}`,
      );
      assert.equal(new Set(posts.map((p) => p.body.id)).size, 1, "the same request for everyone");
      const list = await call("GET", "/api/v1/requests?state=pending&limit=500", "reader");
      const stored = (list.body as unknown as { items: RequestBody[] }).items.filter(
        (r) => r.project === "pytestt",
      );
      assert.equal(stored.length, 1, "one row");
      assert.equal(
        events.filter((e) => e.type === "request.pending" && e.project === "pytestt").length,
        1,
        "announced once",
      );
    });

    test("bad input gets a clear error", async () => {
      const missing = await call("POST", "/api/v1/requests", "requester", { project: "zqxwv-app" });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error?.code, "VALIDATION");
      const unknown = await call("POST", "/api/v1/requests", "requester", {
        project: "no-such-thing",
        reason: "x",
      });
      assert.equal(unknown.status, 404);
      const badName = await call("POST", "/api/v1/requests", "requester", { project: "-bad-", reason: "x" });
      assert.equal(badName.status, 400);
      const noVersion = await call("POST", "/api/v1/requests", "requester", {
        project: "zqxwv-app",
        version: "9.9",
        reason: "x",
      });
      assert.equal(noVersion.status, 404);
      const none = await call("GET", "/api/v1/requests/999999", "reader");
      assert.equal(none.status, 404);
      assert.equal(none.body.error?.code, "NOT_FOUND");
    });

    test("the CLI requests over the API and an approver approves from the CLI", async () => {
      const cli = (args: string[], token: string) =>
        promisify(execFile)(
          process.execPath,
          ["bin/portcullis", ...args, "--gateway", gw.url, "--token", token],
          {
            env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" },
          },
        ).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => ({
            code: e.code,
            stdout: e.stdout,
            stderr: e.stderr,
          }),
        );
      const asked = await cli(
        ["request", "djangoo==3.0", "--reason", "legacy app", "--json"],
        tokens.requester!,
      );
      assert.equal(asked.code, 3, asked.stderr);
      const request = JSON.parse(asked.stdout) as RequestBody;
      assert.equal(request.state, "pending");
      // An empty --checks (an unset variable in a script) must not mean "waive every check".
      const empty = await cli(
        ["requests", "exception", String(request.id), "--reason", "x", "--version", "3.0", "--checks", ""],
        tokens.approver!,
      );
      assert.notEqual(empty.code, 0, empty.stdout);
      assert.match(empty.stderr, /check/);
      const approved = await cli(
        ["requests", "approve", String(request.id), "--reason", "checked", "--ticket", "SEC-7"],
        tokens.approver!,
      );
      assert.equal(approved.code, 0, approved.stderr);
      assert.match(approved.stdout, /djangoo==3\.0\s+APPROVED/);
      assert.match(approved.stdout, /exception \d+: djangoo [0-9a-f]{64} \(typosquat\)/);
    });
  });
}

/** A request as RequestService.create stores it after vetting. */
function newRequest(over: Partial<NewRequest<{ ok: boolean; treeScore: number }>> = {}) {
  return {
    project: "zqxwv-app",
    version: "1.0",
    reason: "needed",
    state: "pending" as const,
    requester: "alice",
    requesterTeam: null,
    report: { ok: false, treeScore: 40 },
    now: T0,
    ...over,
  };
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `identical requests created at the same moment make one pending request (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new RequestRepository(db.db);
        for (const version of ["1.0", null]) {
          // Each has looked for a pending request before vetting, found none, and now inserts.
          const raced = await Promise.all(
            Array.from({ length: 8 }, () => repo.createOrFindPending(newRequest({ version }))),
          );
          assert.equal(
            raced.filter((r) => r.created).length,
            1,
            `one created, for version ${version} (migration 0011-pending-request-once registered in connect-database.ts?)`,
          );
          assert.equal(new Set(raced.map((r) => r.id)).size, 1, "the others answer the one created");
          const pending = await repo.list({ state: "pending", limit: 100 });
          assert.equal(pending.filter((p) => p.version === version).length, 1, "one row in the database");
        }
        const other = await repo.createOrFindPending(newRequest({ requester: "bob" }));
        assert.equal(other.created, true, "another requester's request is their own");
        const approved = await repo.createOrFindPending(newRequest({ state: "approved" }));
        assert.equal(approved.created, true, "a request approved at once is not a pending duplicate");
        const first = (await repo.findPending(newRequest()))!;
        assert.equal(
          await repo.transition(first.id, "pending", {
            state: "denied",
            decidedBy: "alice",
            decisionReason: "withdrawn",
            now: T0,
          }),
          true,
        );
        const again = await repo.createOrFindPending(newRequest());
        assert.equal(
          again.created,
          true,
          "once the pending one is decided, asking again makes a new request",
        );
        assert.notEqual(again.id, first.id);
        await assert.rejects(
          repo.create(newRequest()),
          /unique|duplicate/i,
          "the database itself refuses a second pending copy",
        );
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `migration 0011 closes the duplicate pending requests made before it, keeping the oldest (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new RequestRepository(db.db);
        // A database from before the migration, where the race had made copies.
        await sql`DROP INDEX IF EXISTS package_requests_one_pending`.execute(db.db);
        const kept = await repo.create(newRequest());
        const copies = [await repo.create(newRequest()), await repo.create(newRequest({ now: T0 + 1 }))];
        const keptWithout = await repo.create(newRequest({ version: null }));
        const copyWithout = await repo.create(newRequest({ version: null }));
        const bobs = await repo.create(newRequest({ requester: "bob" }));

        await onePendingRequest(db.db, dialect);

        for (const id of [kept, keptWithout, bobs])
          assert.equal((await repo.get(id))!.state, "pending", `${id} kept`);
        for (const [id, of] of [...copies.map((c) => [c, kept]), [copyWithout, keptWithout]] as const) {
          const closed = (await repo.get(id))!;
          assert.equal(closed.state, "denied", `copy ${id} closed`);
          assert.equal(closed.decidedBy, "portcullis");
          assert.match(
            closed.decisionReason ?? "",
            new RegExp(`^a duplicate of request ${of}, asked at the same moment`),
          );
        }
        await assert.rejects(repo.create(newRequest()), /unique|duplicate/i, "and the index is in place");
      } finally {
        await db.cleanup();
      }
    },
  );
}
