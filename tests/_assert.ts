/**
 * A few assertions for `Deno.test`, with no dependency (JSR is unreachable from the build hosts).
 *
 * @example assertEquals(decode(bytes), { value: 1, consumed: 2 })
 */

/** Thrown when an assertion does not hold. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function isBytes(value: unknown): value is ArrayBufferView & ArrayLike<number> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** True when `a` and `b` have the same structure and values (typed arrays compared by content). */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (isBytes(a) || isBytes(b)) {
    if (!isBytes(a) || !isBytes(b) || a.constructor !== b.constructor) return false;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Map || a instanceof Set) {
    return equal([...a], [...(b as Map<unknown, unknown> | Set<unknown>)]);
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  const recordB = b as Record<string, unknown>;
  const recordA = a as Record<string, unknown>;
  return keysA.every((key) => Object.hasOwn(recordB, key) && equal(recordA[key], recordB[key]));
}

/** A readable form of `value` for failure messages. */
export function show(value: unknown): string {
  if (isBytes(value)) {
    return `${value.constructor.name}[${Array.from(value, (n) => n.toString(16)).join(" ")}]`;
  }
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(
      value,
      (_key, v) =>
        isBytes(v)
          ? show(v)
          : typeof v === "bigint"
          ? `${v}n`
          : v instanceof Map || v instanceof Set
          ? [...v]
          : v,
    );
  } catch {
    return String(value);
  }
}

/**
 * Throws an {@linkcode AssertionError} unless `actual` deeply equals `expected`.
 *
 * @example assertEquals(new Uint8Array([1]), Uint8Array.of(1))
 */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  if (equal(actual, expected)) return;
  const prefix = message ? `${message}: ` : "";
  throw new AssertionError(`${prefix}expected ${show(expected)}, got ${show(actual)}`);
}

/**
 * Throws an {@linkcode AssertionError} unless `condition` is truthy.
 *
 * @example assert(list.length > 0, "the list is empty")
 */
export function assert(condition: unknown, message = "expected a truthy value"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Calls `fn` and returns what it threw; throws an {@linkcode AssertionError} if it threw
 * nothing, something not an instance of `ErrorClass`, or a message without `msgIncludes`.
 *
 * @example const e = assertThrows(() => JSON.parse("{"), SyntaxError)
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
): E {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    if (!(error instanceof ErrorClass)) {
      throw new AssertionError(
        `expected ${ErrorClass.name} to be thrown, got ${
          error instanceof Error ? `${error.name}: ${error.message}` : show(error)
        }`,
      );
    }
    if (msgIncludes !== undefined && !error.message.includes(msgIncludes)) {
      throw new AssertionError(
        `expected the ${ErrorClass.name} message to include "${msgIncludes}", got "${error.message}"`,
      );
    }
    return error;
  }
  throw new AssertionError(`expected ${ErrorClass.name} to be thrown, returned ${show(result)}`);
}

/** Concatenates byte arrays (and latin1 strings, one byte per character) into one `Uint8Array`. */
export function bytes(...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const arrays = parts.map((part) =>
    typeof part === "string"
      ? Uint8Array.from(part, (ch) => {
        const code = ch.charCodeAt(0);
        if (code > 0xff) throw new RangeError(`expected latin1 text, got "${ch}"`);
        return code;
      })
      : part instanceof Uint8Array
      ? part
      : Uint8Array.from(part)
  );
  const out = new Uint8Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/**
 * Awaits `fn` and returns what it rejected with; throws an {@linkcode AssertionError} if it
 * resolved, rejected with something not an instance of `ErrorClass`, or a message without
 * `msgIncludes`.
 *
 * @example const e = await assertRejects(() => store.remove("nobody"), UserError, "no user");
 */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) {
    throw new AssertionError(`expected ${ErrorClass.name} to be thrown, the promise resolved`);
  }
  return assertThrows(
    () => {
      throw error;
    },
    ErrorClass,
    msgIncludes,
  );
}
