/**
 * `portpool/get-port`: get-port 7's API, where every port returned is a lease in the host's
 * port registry owned by this process, so no other process on the host, in any language, is
 * given it while the lease lives. Change one import:
 *
 * ```ts
 * import getPort, { portNumbers, clearLockedPorts } from 'portpool/get-port' // was: 'get-port'
 * ```
 */
export type Options = {
  /**
   * A preferred port, or an iterable of them in order of preference (e.g. `[3000, 3001]` or
   * `portNumbers(4000, 4100)`). When none is free, the port comes from the registry's
   * `default` pool.
   */
  readonly port?: number | Iterable<number>
  /** Ports never to return. */
  readonly exclude?: Iterable<number>
  /**
   * Keep the lease until this process exits or calls {@link clearLockedPorts}, instead of
   * for {@link LOCK_SECONDS} seconds.
   * @default false
   */
  readonly reserve?: boolean
  /**
   * Check this address (IPv4 or IPv6) instead of the wildcard addresses: a port bound on
   * another address of the host may then be returned.
   */
  readonly host?: string
  /** Without `host`: check the IPv6 wildcard address only. */
  readonly ipv6Only?: boolean
  /** Aborts the call: it rejects with an `AbortError` (a `DOMException`) and leases nothing. */
  readonly signal?: AbortSignal
  /** `net.ListenOptions` that do not change which port is free: accepted and ignored. */
  readonly backlog?: number
  readonly exclusive?: boolean
  readonly readableAll?: boolean
  readonly writableAll?: boolean
  readonly reusePort?: boolean
}

/**
 * Resolves to a port leased to this process: the first preferred port that is neither
 * excluded, leased nor bound, else the next free port of the registry's `default` pool.
 * Rejects with portpool's error (`err.code`, e.g. `'PORTPOOL_EXHAUSTED'`) when there is none,
 * with a `TypeError` for an option of the wrong type or an unknown option, and with an
 * `AbortError` when `options.signal` aborts.
 */
export default function getPort(options?: Options): Promise<number>

/**
 * The port numbers `from`...`to`, both included, for `port` or `exclude`. Both must be
 * integers (else a `TypeError`) in 1024-65535 with `to >= from` (else a `RangeError`).
 */
export function portNumbers(from: number, to: number): Iterable<number>

/**
 * Releases every lease this process made through getPort, reserved or not, so that any
 * process may be given those ports again.
 */
export function clearLockedPorts(): void

/** Seconds a lease made without `reserve` lives (30). */
export const LOCK_SECONDS: number
