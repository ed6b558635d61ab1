/**
 * Where `user add` and `user passwd` take a password from: `--password P`, `--password -`
 * (standard input), the `SWIFTPROXY_PASSWORD` variable (both keep it out of `ps`), or a
 * generated one, the better choice. A chosen password has at least 8 characters.
 */
import { InvalidArgumentError, Option } from "commander";
import { usageError } from "../../common/ops/cli.ts";
import { generatePassword, passwordProblem } from "../users/password.ts";

/** The variable a password may come from instead of the command line. */
export const PASSWORD_ENV = "SWIFTPROXY_PASSWORD";

/**
 * The `--password <password>` option; `-` means standard input.
 *
 * @example command.addOption(passwordOption());
 */
export function passwordOption(): Option {
  return new Option(
    "--password <password>",
    `the password, at least 8 characters; "-" reads it from standard input, and ${PASSWORD_ENV} ` +
      "is read when this is left out (both keep it out of ps). Better: leave both out for a " +
      "generated one, printed once",
  ).argParser((text: string) => {
    // Checked here for a value on the command line, so commander names the option.
    const problem = text === "-" ? null : passwordProblem(text);
    if (problem) throw new InvalidArgumentError(problem);
    return text;
  });
}

async function readStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/**
 * The password the options ask for, whether it was generated (to be shown once) and where it
 * came from (`--password`, standard input, the variable, or "generated"). A
 * password from standard input or the variable that is too short is a usage error (exit 2)
 * naming where it came from; nothing is written.
 *
 * @example const { password, generated } = await chosenPassword(options.password);
 */
export async function chosenPassword(
  option: string | undefined,
): Promise<{ password: string; generated: boolean; source: string }> {
  const [password, source] = option === "-"
    ? [await readStdin(), "--password - (standard input)"]
    : option !== undefined
    ? [option, "--password"]
    : [Deno.env.get(PASSWORD_ENV), PASSWORD_ENV];
  if (password === undefined) {
    return { password: generatePassword(), generated: true, source: "generated" };
  }
  const problem = passwordProblem(password);
  if (problem) usageError(`${source}: ${problem}`);
  return { password, generated: false, source };
}
