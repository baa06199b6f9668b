/** `value`, which the test knows is there: its absence is a mistake in the test, and fails it. */
export function defined<T>(value: T | undefined, what = 'a value'): T {
  if (value === undefined) throw new Error(`expected ${what}, got undefined`);
  return value;
}
