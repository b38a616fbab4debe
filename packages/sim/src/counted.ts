/** A count and its noun, agreeing: "1 node", "2 nodes", "1 kroute route". */
export function counted(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
