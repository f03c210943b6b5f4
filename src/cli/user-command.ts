import type { Command } from "commander";
import { addLocalOptions, withLocalServices } from "./local-services.js";
import { inert } from "../domain/control-characters.js";

/** `portcullis user list`: users and service accounts. */
export function registerUserCommand(program: Command): void {
  const user = program
    .command("user")
    .description("Users and service accounts (created by `portcullis token create`).");
  addLocalOptions(
    user.command("list").description("List users and service accounts.").option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const users = await withLocalServices(flags, (s) => s.identity.listUsers());
    if (flags.json) {
      process.stdout.write(JSON.stringify(users, null, 2) + "\n");
      return;
    }
    if (users.length === 0) process.stdout.write("no users\n");
    for (const u of users)
      process.stdout.write(
        inert`${u.name.padEnd(24)} ${u.kind.padEnd(8)} ${u.role.padEnd(9)} ${u.team ?? "-"}${u.disabled ? "  (disabled)" : ""}\n`,
      );
  });
}
