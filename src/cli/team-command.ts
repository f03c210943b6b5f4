import type { Command } from "commander";
import {
  addLocalOptions,
  addRemoteOptions,
  allPages,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";
import { inert } from "../domain/control-characters.js";
import type { TeamView } from "../services/identity/identity-service.js";

/** `portcullis team list`: teams and their member counts. */
export function registerTeamCommand(program: Command): void {
  const team = program
    .command("team")
    .description("Teams (created with `token create --team` or `owner set`).");
  addRemoteOptions(
    addLocalOptions(
      team.command("list").description("List teams with their member counts.").option("--json", "print JSON"),
    ),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteAdminGateway(flags);
    const teams = remote
      ? await allPages<TeamView>(remote, "api/v1/teams")
      : await withLocalServices(flags, (s) => s.identity.listTeams());
    if (flags.json) {
      process.stdout.write(JSON.stringify(teams, null, 2) + "\n");
      return;
    }
    if (teams.length === 0) process.stdout.write("no teams\n");
    for (const t of teams) process.stdout.write(inert`${t.name.padEnd(24)} ${t.members} member(s)\n`);
  });
}
