import type { Command } from "commander";
import { asCliError, cliActor } from "./cli-actor.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";

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
    await withLocalServices(flags, (s) => s.owners.setOwner(project, team, cliActor()).catch(asCliError));
    process.stdout.write(`${project} is owned by ${team}\n`);
  });
  addLocalOptions(
    owner.command("list").description("List project owners.").option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const owners = await withLocalServices(flags, (s) => s.identity.listOwners());
    if (flags.json) {
      process.stdout.write(JSON.stringify(owners, null, 2) + "\n");
      return;
    }
    if (owners.length === 0) process.stdout.write("no owners set\n");
    for (const o of owners) process.stdout.write(`${o.project.padEnd(32)} ${o.team}\n`);
  });
}
