/** `swiftproxy-remote init`: the data directory, users.db and a self-signed certificate. */
import { Command, InvalidArgumentError } from "commander";
import { hostPortArgLike } from "../../common/ops/cli.ts";
import type { Destination } from "../../protocol/address.ts";
import { DataDirError, dataPaths, ensureCertificate } from "../store/data_dir.ts";
import { databaseUrl, openStoreAt, redactUrl } from "../store/store_url.ts";
import {
  describePublicAddress,
  readPublicAddress,
  writePublicAddress,
} from "../share/public_address.ts";
import { dataOption } from "./options.ts";

const hostPort = hostPortArgLike("vpn.example.org:8443");

/**
 * `--public HOST:PORT`: where clients reach the server; a wildcard is no address to dial.
 *
 * @example command.option("--public <host:port>", "…", publicArg);
 */
export function publicArg(text: string): Destination {
  const address = hostPort(text);
  if (["0.0.0.0", "::", ""].includes(address.host)) {
    throw new InvalidArgumentError(
      `expected the name or address clients dial, got "${text}" (example: vpn.example.org:8443)`,
    );
  }
  return address;
}

/** The `init` subcommand. */
export function initCommand(): Command {
  return new Command("init")
    .description("create the data directory, users.db and a TLS certificate")
    .addOption(dataOption())
    .option(
      "--san <names>",
      "extra certificate names, comma-separated (the server's public name or IP)",
      (t: string) => t.split(",").map((s) => s.trim()).filter(Boolean),
      [],
    )
    .option(
      "--public <host:port>",
      "where clients reach the server: every link and subscription carries it (again to change)",
      publicArg,
    )
    .action(async (options) => {
      let cert;
      try {
        await (await openStoreAt(options)).close();
        cert = await ensureCertificate(options.data, options.san);
        if (options.public) writePublicAddress(options.data, { ...options.public, guessed: false });
      } catch (error) {
        if (!(error instanceof DataDirError)) throw error;
        console.error(`error: ${error.message}`);
        Deno.exit(1);
      }
      console.log(`data directory: ${options.data}`);
      const url = databaseUrl(options);
      console.log(`users database: ${url ? redactUrl(url) : dataPaths(options.data).db}`);
      console.log(`certificate${cert.created ? " (new)" : ""}: ${cert.path}`);
      console.log(`certificate SHA-256: ${cert.fingerprint}`);
      const kept = readPublicAddress(options.data);
      console.log(
        kept
          ? describePublicAddress(kept, "swiftproxy-remote init --public")
          : "public address: not set; the first serve guesses it from --listen and the " +
            "certificate (set it with init --public HOST:PORT)",
      );
    });
}
