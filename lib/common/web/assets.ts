/**
 * The files of a page (the dashboard's, the admin panel's): each path it is served at with its
 * text, content type and cache policy. The texts are text imports, embedded by `deno compile`
 * like modules and read once when the program loads; nothing is read from disk at run time.
 */
import { respond } from "./http_replies.ts";
import type { Route } from "./router.ts";

/** One file of a page. */
export interface Asset {
  /** The path it is served at, e.g. `/app.js`. */
  path: string;
  body: string;
  /** Its `content-type`; by default from the path's extension (`.js`, `.css`, `.svg`, `.html`). */
  type?: string;
  /** Its `cache-control`; by default `no-store`, as every answer of the pages. */
  cache?: string;
}

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  html: "text/html; charset=utf-8",
};

/**
 * A page's files by path.
 *
 * @throws {TypeError} from the constructor for a path whose type neither is given nor follows
 *   from its extension, or for a path listed twice
 * @example
 * const assets = new AssetMap([{ path: "/app.js", body: appJs }]);
 * assets.get("/app.js")?.type // "text/javascript; charset=utf-8"
 */
export class AssetMap {
  readonly #files = new Map<string, Required<Asset>>();

  constructor(files: readonly Asset[]) {
    for (const file of files) {
      const type = file.type ?? TYPES[file.path.split(".").at(-1) ?? ""];
      if (type === undefined) throw new TypeError(`no content type for ${file.path}`);
      if (this.#files.has(file.path)) throw new TypeError(`${file.path} listed twice`);
      this.#files.set(file.path, { ...file, type, cache: file.cache ?? "no-store" });
    }
  }

  /** The file served at `path`, if any. */
  get(path: string): Required<Asset> | undefined {
    return this.#files.get(path);
  }

  /** The answer for `path` (with the pages' security headers), or null when there is none. */
  response(path: string): Response | null {
    const file = this.#files.get(path);
    return file ? respond(200, file.body, file.type, { "cache-control": file.cache }) : null;
  }

  /** A `GET` route for each file, to list among a page's routes. */
  routes(): Route[] {
    return [...this.#files.keys()].map((path) => ({
      method: "GET",
      path,
      handle: () => this.response(path)!,
    }));
  }
}
