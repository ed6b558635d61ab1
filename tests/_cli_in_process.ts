/**
 * The remote's commands run in this process, parsed and run by the CLI's own code, their
 * output collected: for tests where a command is setup, not what is tested. A spawned
 * `swiftproxy-remote user …` costs a program start (0.2 s of CPU); the suite ran some 300.
 * Tests of the CLI itself (its exit codes, its refusals) keep spawning it (`_harness.ts`).
 */
import type { Command } from "commander";
import { remoteProgram } from "../lib/remote/cli/main.ts";

let running: Promise<unknown> = Promise.resolve();

/**
 * Runs `command` with `args` (after the command's own name) in this process; resolves with
 * what it printed on stdout. One at a time: `console` is borrowed while a command runs.
 *
 * @throws {Error} with what it printed on stderr when it fails or sets a non-zero exit code
 */
export function runInProcess(command: Command, args: string[]): Promise<string> {
  const turn = running.then(() => run(command, args));
  running = turn.catch(() => {});
  return turn;
}

async function run(command: Command, args: string[]): Promise<string> {
  const out: string[] = [];
  const errors: string[] = [];
  const { log, error } = console;
  const exitCode = Deno.exitCode;
  console.log = (...parts: unknown[]) => out.push(`${parts.join(" ")}\n`);
  console.error = (...parts: unknown[]) => errors.push(parts.join(" "));
  let failure: unknown;
  try {
    for (const c of everyCommand(command)) c.exitOverride();
    await command.parseAsync(args, { from: "user" });
  } catch (caught) {
    failure = caught;
  } finally {
    console.log = log;
    console.error = error;
  }
  const failed = failure !== undefined || Deno.exitCode !== exitCode;
  Deno.exitCode = exitCode;
  if (failed) {
    throw new Error(
      `${command.name()} ${args.join(" ")} failed: ${errors.join("\n")} ${failure ?? ""}`,
    );
  }
  return out.join("");
}

/**
 * Runs `swiftproxy-remote ARGS` in this process (any command but `serve`), as the program
 * parses them: `--db URL` rather than `SWIFTPROXY_DB`, which would be this whole process's.
 *
 * @throws {Error} as {@linkcode runInProcess}
 */
export function remoteInProcess(...args: string[]): Promise<string> {
  return runInProcess(remoteProgram(), args);
}

/** `command` and all its subcommands, at every depth. */
function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

/**
 * What `PROGRAM WORDS --help` prints, or "" when that is an error (no such command): the
 * program's own parser run in this process, as {@linkcode runInProcess} runs a command.
 */
export async function helpInProcess(program: Command, words: string[]): Promise<string> {
  let text = "";
  for (const c of everyCommand(program)) {
    c.exitOverride().configureOutput({ writeOut: (s) => text += s, writeErr: () => {} });
  }
  try {
    await program.parseAsync([...words, "--help"], { from: "user" });
  } catch (error) {
    if ((error as { code?: string }).code === "commander.helpDisplayed") return text;
  }
  return "";
}
