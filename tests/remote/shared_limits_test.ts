import { assertEquals } from "../_assert.ts";
import { shareOf } from "../../lib/remote/nodes/shared_limits.ts";

const idle = { rate: 0, hungry: false, active: false };
const hungry = { rate: 0, hungry: true, active: true };

Deno.test("a user idle on every node has the limit split evenly among the nodes alive", () => {
  assertEquals(shareOf(3000, idle, [idle, idle], 3), 1000);
  // One node on the database: the whole limit.
  assertEquals(shareOf(3000, idle, [], 1), 3000);
});

Deno.test("an idle node keeps one active node's slot, and a lone busy node gets it all", () => {
  assertEquals(shareOf(3000, idle, [hungry, idle], 3), 1500);
  assertEquals(shareOf(3000, hungry, [idle, idle], 3), 3000);
  assertEquals(shareOf(3000, hungry, [hungry, hungry], 3), 1000);
});
