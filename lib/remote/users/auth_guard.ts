/** The remote's brute-force guard: the shared one (lib/common/security/auth_guard.ts), logging as `remote.guard`. */
import { AuthGuard as SharedGuard } from "../../common/security/auth_guard.ts";
import type { AuthGuardOptions } from "../../common/security/auth_guard.ts";
import { logger } from "../../common/ops/logging.ts";

export type { AuthGuardOptions };

/**
 * Failed tunnel logins per source address (IPv6 per /64), logged under `swiftproxy.remote.guard`.
 *
 * @example const guard = new AuthGuard({ limit: 20, coolOffMs: 600_000 });
 */
export class AuthGuard extends SharedGuard {
  constructor(options: AuthGuardOptions) {
    super(options, { log: logger("remote", "guard") });
  }
}
