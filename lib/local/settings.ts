/**
 * The local's settings file: what the dashboard form holds, kept between runs as JSON
 * (mode 0600). The password is kept only when the user asks for it ("remember").
 */
import { dirname, join } from "node:path";

/** The settings the dashboard edits; addresses are `host:port` text as typed. */
export interface Settings {
  listen: string;
  remote: string;
  /** Path of a PEM file to trust for the remote (its self-signed certificate). */
  ca: string;
  /** Name to check the remote's certificate against, when not the remote's host. */
  serverName: string;
  user: string;
  /** Kept in the file only when `remember` is set. */
  password: string;
  remember: boolean;
}

/** Settings of a fresh install. */
export const DEFAULT_SETTINGS: Readonly<Settings> = {
  listen: "127.0.0.1:1080",
  remote: "",
  ca: "",
  serverName: "",
  user: "",
  password: "",
  remember: false,
};

/**
 * The settings file's default path: `%APPDATA%\swiftproxy\local.json` on Windows, else
 * `$XDG_CONFIG_HOME/swiftproxy/local.json` or `~/.config/swiftproxy/local.json`.
 *
 * @example defaultSettingsPath() // "/home/ann/.config/swiftproxy/local.json"
 */
export function defaultSettingsPath(): string {
  const env = (name: string) => Deno.env.get(name) || undefined;
  if (Deno.build.os === "windows") {
    const base = env("APPDATA") ?? join(env("USERPROFILE") ?? ".", "AppData", "Roaming");
    return join(base, "swiftproxy", "local.json");
  }
  const base = env("XDG_CONFIG_HOME") ?? join(env("HOME") ?? ".", ".config");
  return join(base, "swiftproxy", "local.json");
}

/** Fills missing or mistyped fields of a parsed file with the defaults. */
export function normalizeSettings(value: unknown): Settings {
  const record = typeof value === "object" && value !== null
    ? value as Record<string, unknown>
    : {};
  const text = (key: keyof Settings) =>
    typeof record[key] === "string" ? record[key] as string : DEFAULT_SETTINGS[key] as string;
  return {
    listen: text("listen") || DEFAULT_SETTINGS.listen,
    remote: text("remote"),
    ca: text("ca"),
    serverName: text("serverName"),
    user: text("user"),
    password: text("password"),
    remember: record.remember === true,
  };
}

/**
 * Reads the settings file; a missing file gives the defaults.
 *
 * @throws {Error} when the file exists but is not JSON
 */
export async function loadSettings(path: string): Promise<Settings> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ...DEFAULT_SETTINGS };
    throw error;
  }
  try {
    return normalizeSettings(JSON.parse(text));
  } catch (error) {
    throw new Error(`the settings file "${path}" is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Writes the settings file (mode 0600, through a temporary file and a rename), without the
 * password unless `remember` is set.
 */
export async function saveSettings(path: string, settings: Settings): Promise<void> {
  const stored: Settings = { ...settings, password: settings.remember ? settings.password : "" };
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(stored, null, 2) + "\n", { mode: 0o600 });
  if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o600);
  await Deno.rename(temporary, path);
}
