/** The shortest password accepted for a login that a SwiftProxy program checks itself. */

/** Passwords shorter than this are refused (issue: an empty one was a working login). */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * Why `password` is too short to accept, without repeating it; `null` when it is long enough.
 * Characters are counted as code points, so a non-ASCII password is not counted in bytes.
 *
 * @example shortPassword("abc") // "expected at least 8 characters, got 3"
 */
export function shortPassword(password: string): string | null {
  const length = [...password].length;
  return length < MIN_PASSWORD_LENGTH
    ? `expected at least ${MIN_PASSWORD_LENGTH} characters, got ${length}`
    : null;
}
