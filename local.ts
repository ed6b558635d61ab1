/** swiftproxy-local: the client side of SwiftProxy. See `--help`. */
import { main } from "./lib/local/cli.ts";

await main(Deno.args);
