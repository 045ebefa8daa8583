/**
 * Fetched records of one partition waiting to be folded. Kafka fetching and folding run as a pipeline:
 * the consumer's batch handler pushes records here and returns (so kafkajs fetches the next batch while
 * this one folds), and the partition's fold loop takes up to a flush's worth at a time. The queue is
 * bounded: a full queue makes the batch handler wait, which stops fetching — a backlog never piles up
 * in memory.
 */
export class PartitionQueue<T> {
  private items: T[] = [];
  private head = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(
    /** Records queued at most; push() past it is allowed once, waitForRoom() then holds the producer. */
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(items: readonly T[]): void {
    if (this.closed) return;
    for (const item of items) this.items.push(item);
    this.wake();
  }

  /** Takes up to `max` records, oldest first (an empty array when none are queued). */
  take(max: number): T[] {
    const end = Math.min(this.items.length, this.head + max);
    const taken = this.items.slice(this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.wake();
    return taken;
  }

  /** Resolves when records are queued or the queue closes. */
  async waitForRecords(): Promise<void> {
    while (this.size === 0 && !this.closed) await this.next();
  }

  /**
   * Resolves when the queue is below capacity or closed; `tick` runs every `tickMs` while waiting (the
   * consumer heartbeats there, so a long wait behind a slow fold never costs the group membership).
   */
  async waitForRoom(tick: () => Promise<void>, tickMs: number): Promise<void> {
    while (this.size >= this.capacity && !this.closed) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.next(),
        new Promise<void>((r) => {
          timer = setTimeout(r, tickMs);
        }),
      ]);
      clearTimeout(timer);
      if (this.size >= this.capacity && !this.closed) await tick();
    }
  }

  /** Drops what is queued and releases every waiter; later pushes are ignored. */
  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
    this.wake();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
