/** `swiftproxy-remote init`: the data directory, users.db and a self-signed certificate. */
import { Command } from "commander";
import { DataDirError, dataPaths, ensureCertificate } from "../store/data_dir.ts";
import { databaseUrl, openStoreAt, redactUrl } from "../store/store_url.ts";
import { dataOption } from "./options.ts";

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
    .action(async (options) => {
      let cert;
      try {
        await (await openStoreAt(options)).close();
        cert = await ensureCertificate(options.data, options.san);
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
    });
}
