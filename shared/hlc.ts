/**
 * A hybrid logical clock (Kulkarni et al., 2014): readings that follow the wall clock, never
 * go backwards on one device, and come after every reading the device has seen from others.
 * A reading is a string that sorts as the clock does: wall time in ms (base 36, 9 digits),
 * a counter (base 36, 4 digits) for readings within one millisecond, and the device's id to
 * break ties between devices.
 */

const WALL_DIGITS = 9;
const COUNTER_DIGITS = 4;

export interface ClockState {
  wall: number;
  counter: number;
}

/** Returns a reading as its sortable string. */
export function encodeHlc(state: ClockState, node: string): string {
  return `${state.wall.toString(36).padStart(WALL_DIGITS, '0')}-${state.counter.toString(36).padStart(COUNTER_DIGITS, '0')}-${node}`;
}

/** Returns the wall time and counter of a reading, or null when it is not one. */
export function decodeHlc(reading: string): ClockState | null {
  const match = /^([0-9a-z]{9})-([0-9a-z]{4})-[\w-]{1,64}$/.exec(reading);
  if (!match) return null;
  return { wall: parseInt(match[1], 36), counter: parseInt(match[2], 36) };
}

/** Returns the time a reading was taken, as an ISO date-time. */
export const hlcTime = (reading: string) => new Date(decodeHlc(reading)?.wall ?? 0).toISOString();

export const HLC_PATTERN = /^[0-9a-z]{9}-[0-9a-z]{4}-[\w-]{1,64}$/;

export class HybridClock {
  #state: ClockState;

  constructor(
    readonly node: string,
    state: ClockState = { wall: 0, counter: 0 },
    private readonly wallClock: () => number = Date.now,
  ) {
    this.#state = { ...state };
  }

  get state(): ClockState {
    return { ...this.#state };
  }

  /** Returns a new reading, later than every earlier one of this clock and every one it observed. */
  now(): string {
    const wall = this.wallClock();
    if (wall > this.#state.wall) this.#state = { wall, counter: 0 };
    else this.#state = { wall: this.#state.wall, counter: this.#state.counter + 1 };
    return encodeHlc(this.#state, this.node);
  }

  /** Moves the clock past a reading from another device, so that what this one writes next comes after it. */
  observe(reading: string): void {
    const remote = decodeHlc(reading);
    if (!remote) return;
    if (remote.wall > this.#state.wall || (remote.wall === this.#state.wall && remote.counter > this.#state.counter)) {
      this.#state = { ...remote };
    }
  }
}
