import type { Command } from "commander";
import { isValidProjectName, normalizeProjectName } from "../domain/project-name.js";
import { checkTeamName } from "../services/identity/identity-service.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  addRemoteOptions,
  allPages,
  callGateway,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";
import { inert } from "../domain/control-characters.js";

/** An owner as `GET /api/v1/owners` and `owner list --json` show it. */
interface OwnerJson {
  project: string;
  team: string;
  setBy: string | null;
  setAt: string;
}

/** `portcullis owner set|list`: which team owns which catalog project. */
export function registerOwnerCommand(program: Command): void {
  const owner = program
    .command("owner")
    .description(
      "Project owners: the team that answers for a project (shown by who-has, used by remediation).",
    );
  addRemoteOptions(
    addLocalOptions(
      owner
        .command("set")
        .argument("<project>", "project name")
        .argument("<team>", "owning team (created if new)")
        .description("Set the team owning a project."),
    ),
  ).action(async (project: string, team: string, flags: Record<string, string | boolean | undefined>) => {
    // The identity service's checks, made here too: over --gateway a bad name is refused before
    // anything is sent (and `..` never reaches a URL path, where it would climb out of it).
    if (!isValidProjectName(project)) throw new CliError(`invalid project name ${JSON.stringify(project)}`);
    try {
      checkTeamName(team);
    } catch (err) {
      asCliError(err);
    }
    const remote = remoteAdminGateway(flags);
    if (remote) {
      const set = await callGateway<{ project: string; team: string }>(
        remote.url,
        remote.token,
        `api/v1/owners/${encodeURIComponent(project)}`,
        { method: "PUT", body: { team } },
      );
      process.stdout.write(inert`${set.project} is owned by ${set.team}\n`);
      return;
    }
    await withLocalServices(flags, (s) => s.owners.setOwner(project, team, cliActor()).catch(asCliError), {
      create: true,
    });
    process.stdout.write(inert`${normalizeProjectName(project)} is owned by ${team}\n`);
  });
  addRemoteOptions(
    addLocalOptions(owner.command("list").description("List project owners.").option("--json", "print JSON")),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteAdminGateway(flags);
    // The shape GET /api/v1/owners answers with, local or remote alike.
    const items: OwnerJson[] = remote
      ? (await allPages<OwnerJson>(remote, "api/v1/owners")).map((o) => ({
          project: o.project,
          team: o.team,
          setBy: o.setBy,
          setAt: o.setAt,
        }))
      : (await withLocalServices(flags, (s) => s.identity.listOwners())).map((o) => ({
          project: o.project,
          team: o.team,
          setBy: o.set_by,
          setAt: new Date(Number(o.set_at)).toISOString(),
        }));
    if (flags.json) {
      process.stdout.write(JSON.stringify(items, null, 2) + "\n");
      return;
    }
    if (items.length === 0) process.stdout.write("no owners set\n");
    for (const o of items) process.stdout.write(inert`${o.project.padEnd(32)} ${o.team}\n`);
  });
}
