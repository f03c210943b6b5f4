import type { Command } from "commander";
import { normalizeProjectName } from "../domain/project-name.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";
import { inert } from "../domain/control-characters.js";

/** `portcullis owner set|list`: which team owns which catalog project. */
export function registerOwnerCommand(program: Command): void {
  const owner = program
    .command("owner")
    .description(
      "Project owners: the team that answers for a project (shown by who-has, used by remediation).",
    );
  addLocalOptions(
    owner
      .command("set")
      .argument("<project>", "project name")
      .argument("<team>", "owning team (created if new)")
      .description("Set the team owning a project."),
  ).action(async (project: string, team: string, flags: Record<string, string | boolean | undefined>) => {
    await withLocalServices(flags, (s) => s.owners.setOwner(project, team, cliActor()).catch(asCliError), {
      create: true,
    });
    process.stdout.write(inert`${normalizeProjectName(project)} is owned by ${team}\n`);
  });
  addLocalOptions(
    owner.command("list").description("List project owners.").option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const owners = await withLocalServices(flags, (s) => s.identity.listOwners());
    if (flags.json) {
      // The shape GET /api/v1/owners answers with.
      const items = owners.map((o) => ({
        project: o.project,
        team: o.team,
        setBy: o.set_by,
        setAt: new Date(Number(o.set_at)).toISOString(),
      }));
      process.stdout.write(JSON.stringify(items, null, 2) + "\n");
      return;
    }
    if (owners.length === 0) process.stdout.write("no owners set\n");
    for (const o of owners) process.stdout.write(inert`${o.project.padEnd(32)} ${o.team}\n`);
  });
}
