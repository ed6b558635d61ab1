/**
 * The rules file's `http` rule-providers kept fresh: each is fetched through the tunnel
 * (`route_fetch.ts`) when it has no kept copy, and again every `interval` seconds after the
 * copy's time (its file's modification time); a good answer is put in force and written
 * beside the rules file (`providerPath`), a failed one keeps the last good copy and is logged
 * once until a fetch works again. The proxy never waits for any of it: until the first fetch,
 * the provider's rules are empty (or its kept copy's).
 */
import { dirname } from "node:path";
import { logger } from "../../common/ops/logging.ts";
import { providerPath, type ProviderSpec } from "../../rules/mod.ts";
import type { Route } from "../tunnel/route.ts";
import type { LocalRules } from "./local_rules.ts";
import { fetchThrough } from "./route_fetch.ts";

const log = logger("local", "rules");

/** When the providers are looked at, and how long a failed one waits before it is tried again. */
export interface RefreshTiming {
  /** How often the providers are looked at (default 1 s). */
  tickMs: number;
  /** After a failed fetch, at most this long before the next try (default 60 s). */
  retryMs: number;
  /** Time allowed for one fetch (default 60 s). */
  timeoutMs: number;
}

const TIMING: RefreshTiming = { tickMs: 1_000, retryMs: 60_000, timeoutMs: 60_000 };

interface State {
  /** The URL the kept copy came from (a reload may name another: then it is fetched anew). */
  url: string;
  /** When the kept copy was fetched (its file's time), 0 for none. */
  keptAt: number;
  /** The earliest time of the next try after a failure. */
  retryAt: number;
  /** Whether the last try failed (then the next failure is not logged again). */
  failing: boolean;
  fetching: boolean;
}

/**
 * Keeps the `http` providers of `rules` fresh, fetching through the route `route()` gives
 * (null while the proxy is not connected: the fetch waits for it).
 *
 * @example
 * const refresh = new ProviderRefresh(rules, () => control.proxyRoute);
 * refresh.start(); // … refresh.stop();
 */
export class ProviderRefresh {
  readonly #rules: LocalRules;
  readonly #route: () => Route | null;
  readonly #timing: RefreshTiming;
  readonly #states = new Map<string, State>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** A look at the providers is under way (it reads files): the next tick skips. */
  #ticking = false;

  constructor(rules: LocalRules, route: () => Route | null, timing: Partial<RefreshTiming> = {}) {
    this.#rules = rules;
    this.#route = route;
    this.#timing = { ...TIMING, ...timing };
  }

  /** Starts looking at the providers (at once, then every `tickMs`). */
  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), this.#timing.tickMs);
    void this.#tick();
  }

  /** Stops; a fetch under way finishes on its own. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#look();
    } finally {
      this.#ticking = false;
    }
  }

  async #look(): Promise<void> {
    const file = this.#rules.options.file;
    const engine = this.#rules.engine;
    if (!file || !engine) return;
    const route = this.#route();
    if (!route) return;
    const now = Date.now();
    for (const spec of engine.providers.values()) {
      if (spec.type !== "http" || !spec.url) continue;
      const path = providerPath(spec, file)!;
      let state = this.#states.get(spec.name);
      if (!state || (state.url !== spec.url && !state.fetching)) {
        state = await this.#first(spec, path, state ? 0 : undefined);
      }
      if (state.fetching || now < state.retryAt) continue;
      const due = state.keptAt === 0 ||
        (spec.interval > 0 && now >= state.keptAt + spec.interval * 1000);
      if (due) void this.#fetch(spec, path, route, state);
    }
  }

  /**
   * A provider's state as its kept copy on disk says (`keptAt` when given: 0 for a copy of
   * another URL, due at once).
   */
  async #first(spec: ProviderSpec, path: string, keptAt?: number): Promise<State> {
    keptAt ??= await Deno.stat(path).then((s) => s.mtime?.getTime() ?? 0, () => 0);
    const state = { url: spec.url!, keptAt, retryAt: 0, failing: false, fetching: false };
    this.#states.set(spec.name, state);
    return state;
  }

  async #fetch(spec: ProviderSpec, path: string, route: Route, state: State): Promise<void> {
    state.fetching = true;
    try {
      const text = await fetchThrough(route, spec.url!, this.#timing.timeoutMs);
      // Put in force first: a text the rules refuse is a failed fetch, and is not kept.
      await this.#rules.engine?.updateProvider(spec.name, text);
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeTextFile(`${path}.new`, text);
      await Deno.rename(`${path}.new`, path);
      state.keptAt = Date.now();
      if (state.failing) log.info("rule-provider {name}: fetched again", { name: spec.name });
      else log.info("rule-provider {name}: fetched {url}", { name: spec.name, url: spec.url });
      state.failing = false;
    } catch (error) {
      const interval = spec.interval > 0 ? spec.interval * 1000 : Infinity;
      state.retryAt = Date.now() + Math.min(this.#timing.retryMs, interval);
      if (!state.failing) {
        log.warn(
          "rule-provider {name}: cannot fetch {url} ({error}); {kept} until a fetch works",
          {
            name: spec.name,
            url: spec.url,
            error: (error as Error).message,
            kept: state.keptAt ? "the last good copy stays in force" : "its rules are empty",
          },
        );
      }
      state.failing = true;
    } finally {
      state.fetching = false;
    }
  }
}
