/** A setting that cannot be used; main reports its message (which names the flag) and exits 2. */
export class SettingsError extends Error {
  override readonly name: string = "SettingsError";
  /** The refused value and why, when one flag's value is at fault (see `fail`). */
  readonly refused?: { readonly flag: string; readonly value: unknown; readonly why: string };

  constructor(message: string, refused?: SettingsError["refused"]) {
    super(message);
    if (refused !== undefined) this.refused = refused;
  }
}

/** Every rejected value reads the same way: the flag, the value as given, and why it is refused. */
export function fail(flag: string, value: unknown, why: string): never {
  throw new SettingsError(`--${flag}: ${JSON.stringify(value)} ${why}`, { flag, value, why });
}
