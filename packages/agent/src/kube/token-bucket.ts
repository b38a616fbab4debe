/** A token bucket on a clock of the caller's: `burst` tokens, one more back every `refillMs`. */
export class TokenBucket {
  readonly #burst: number;
  readonly #refillMs: number;
  #tokens: number;
  /** When the last token counted in #tokens came back (or the bucket was full). */
  #at: number;

  constructor(burst: number, refillMs: number, now: number) {
    if (!Number.isSafeInteger(burst) || burst < 1)
      throw new Error(`TokenBucket: burst ${burst} is not a positive integer`);
    if (!Number.isFinite(refillMs) || refillMs <= 0)
      throw new Error(`TokenBucket: refillMs ${refillMs} is not a positive number`);
    this.#burst = burst;
    this.#refillMs = refillMs;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Whether a token is there to take at `now`. */
  available(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }

  /** Takes a token: false, taking nothing, when there is none. */
  take(now: number): boolean {
    if (!this.available(now)) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number): void {
    const back = Math.floor((now - this.#at) / this.#refillMs);
    if (back <= 0) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + back);
    this.#at = this.#tokens === this.#burst ? now : this.#at + back * this.#refillMs;
  }
}
