/** A setting that cannot be used; main reports its message (which names the flag) and exits 2. */
export class SettingsError extends Error {
  override readonly name: string = "SettingsError";
}

/** Every rejected value reads the same way: the flag, the value as given, and why it is refused. */
export function fail(flag: string, value: unknown, why: string): never {
  throw new SettingsError(`--${flag}: ${JSON.stringify(value)} ${why}`);
}
