/** swiftproxy-remote: the server side of SwiftProxy. See `--help`. */
import { main } from "./lib/remote/cli/main.ts";

await main(Deno.args);
