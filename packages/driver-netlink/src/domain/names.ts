/** ifindex ↔ interface name, as seen in the driver's namespace. */

export interface LinkNames {
  indexOf(name: string): number | undefined;
  /** The name of an ifindex; `ifindex:N` when the driver has not seen that link. */
  nameOf(index: number): string;
}

export class LinkTable implements LinkNames {
  private readonly byIndex = new Map<number, string>();
  private readonly byName = new Map<string, number>();

  set(index: number, name: string): void {
    const old = this.byIndex.get(index);
    if (old !== undefined && this.byName.get(old) === index) this.byName.delete(old);
    this.byIndex.set(index, name);
    this.byName.set(name, index);
  }

  /** The link is gone: its name no longer resolves, but late notifications about it still name it. */
  delete(index: number): void {
    const name = this.byIndex.get(index);
    if (name !== undefined && this.byName.get(name) === index) this.byName.delete(name);
  }

  replaceAll(entries: Iterable<readonly [number, string]>): void {
    this.byIndex.clear();
    this.byName.clear();
    for (const [index, name] of entries) this.set(index, name);
  }

  indexOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  nameOf(index: number): string {
    return this.byIndex.get(index) ?? `ifindex:${index}`;
  }
}
