/**
 * `/api/openapi.json` describes the API that exists: every route of the router is in it, and
 * every path it documents answers (not the router's "no API" 404) on the running panel.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { keyForToken } from "../../../lib/remote/store/user_store.ts";
import { startAdmin } from "./_admin.ts";

Deno.test("the OpenAPI document and the router agree, both ways", async () => {
  const admin = await startAdmin();
  try {
    const token = "spt_openapi-test-token";
    await admin.remote.store.addToken({
      name: "t",
      key: keyForToken(token),
      readOnly: false,
      createdAt: Date.now(),
      lastUsedAt: null,
    });
    const response = await fetch(`${admin.origin}/api/openapi.json`);
    assertEquals(response.status, 200);
    const doc = await response.json();
    assert(String(doc.openapi).startsWith("3."), "an OpenAPI 3 document");
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) =>
        Object.keys(item).filter((k) => k !== "parameters").map((m) => `${m.toUpperCase()} ${path}`)
      ).sort();
    const routed = admin.side.admin!.routes.map((r) => `${r.method} ${r.path}`);
    const undocumented = routed.filter((r) => !documented.includes(r));
    assertEquals(undocumented, [], "routes missing from /api/openapi.json");

    // Every documented path answers on the panel: never the router's 404.
    for (const entry of documented) {
      const [method, template] = entry.split(" ") as [string, string];
      const path = template.replace("{name}", "nobody").replace("{id}", "999999");
      const reply = await fetch(admin.origin + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: ["GET", "DELETE"].includes(method) ? undefined : "{}",
      });
      const text = await reply.text();
      assert(
        !/no API/.test(text),
        `${entry} is documented but not routed: ${reply.status} ${text}`,
      );
    }
  } finally {
    await admin.stop();
  }
});
