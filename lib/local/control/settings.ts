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
  /**
   * Hex SHA-256 of the remote's leaf certificate (a share link's `pcs`): that certificate,
   * checked against it, is trusted instead of a CA file. Absent for none.
   */
  pin?: string;
  user: string;
  /** Kept in the file only when `remember` is set. */
  password: string;
  remember: boolean;
  /**
   * A rules file (`--rules`), and a country sent direct (`--direct-country`): read at start,
   * set in the file or by those options; the dashboard's form leaves them as they are.
   */
  rules?: string;
  directCountry?: string;
}

/** The settings the dashboard's form does not hold, kept as they are when it connects. */
export const FILE_ONLY_FIELDS = ["rules", "directCountry"] as const;

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
    // As typed or pasted (colons, either case) in the form links carry; a pin that is not a
    // fingerprint is kept, so Connect refuses it rather than quietly connecting without it.
    ...(typeof record.pin === "string" && record.pin.trim() !== ""
      ? { pin: record.pin.trim().replaceAll(":", "").toLowerCase() }
      : {}),
    user: text("user"),
    password: text("password"),
    remember: record.remember === true,
    ...Object.fromEntries(
      FILE_ONLY_FIELDS.filter((key) => typeof record[key] === "string" && record[key] !== "")
        .map((key) => [key, record[key] as string]),
    ),
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

/** The settings the saved password belongs to: changing any of them needs the password again. */
const ACCOUNT_FIELDS = ["remote", "user", "ca", "serverName", "pin"] as const;

const FIELD_NAMES: Record<typeof ACCOUNT_FIELDS[number], string> = {
  remote: "remote",
  user: "name",
  ca: "CA file",
  serverName: "server name",
  pin: "pinned certificate",
};

/**
 * Why `wanted`, which leaves the password empty ("keep the one known"), may not use the
 * password known with `known`, or null when it may. The known password goes only to the
 * remote, account and certificate it was given for: whoever changes any of them (another
 * program on this computer can post to the dashboard) types it again. So does whoever moves
 * the proxy to an address that `sharesAccount` (others can reach it without a login).
 *
 * @example keptPasswordRefusal(saved, { ...saved, remote: "other:8443", password: "" }, false)
 * // "Enter the password again: the remote changed, …"
 */
export function keptPasswordRefusal(
  known: Settings,
  wanted: Settings,
  sharesAccount: boolean,
): string | null {
  if (wanted.password !== "" || known.password === "") return null;
  const changed = ACCOUNT_FIELDS.filter((field) => wanted[field] !== known[field]);
  if (changed.length > 0) {
    const names = changed.map((field) => FIELD_NAMES[field]).join(", ");
    return `Enter the password again: the ${names} changed, and the known password is only ` +
      `sent to the remote and account it was entered for.`;
  }
  if (sharesAccount && wanted.listen !== known.listen) {
    return `Enter the password again to listen on ${wanted.listen}: without a SOCKS5 login ` +
      `(--socks-user) anyone who can reach that address can use your account (an open proxy).`;
  }
  return null;
}
