'use strict'
// `portpool/get-port`: get-port 7's API over the host's port registry. Change one import:
//
//   import getPort, { portNumbers, clearLockedPorts } from 'portpool/get-port'   // was: 'get-port'
//
// get-port probes for a port and remembers, in this process only, which ones it handed out;
// two processes (parallel test workers) can be given the same port. Here every port getPort
// returns is a lease in the registry that `new Registry()` opens ($PORTPOOL_REGISTRY, else
// the host registry when it exists, else the per-user one), owned by this process, so no
// other process on the host, in any language, is given it while the lease lives:
//
// - without `reserve`, for LOCK_SECONDS (as long as get-port's in-process lock lasts at
//   most), after which a port actually in use is protected by the bind probe;
// - with `reserve`, until this process exits or calls clearLockedPorts().
//
// The preferred ports (`port`), `exclude` and `host` go to portpool's core as they are: which
// port is free, leased or excluded is decided there. When no preferred port is free, the port
// comes from the registry's `default` pool (9000-18999 unless `portpool pool set default`
// changed it) instead of the kernel's ephemeral range: 10,000 ports, as many as portpicker's
// portserver hands out, enough for a test farm's workers to hold what they hold at once.

const { Registry, unnamedLeaseName } = require('./index.js')

/** How long a lease made without `reserve` lives, in seconds. */
const LOCK_SECONDS = 30

// net.ListenOptions keys that getPort accepts beside its own. `ipv6Only` (with no `host`)
// checks the IPv6 wildcard only, and `signal` aborts the call; the others do not change
// which port is free, and are ignored, as get-port ignores them.
const LISTEN_KEYS = new Set([
  'backlog',
  'exclusive',
  'readableAll',
  'writableAll',
  'ipv6Only',
  'signal',
  'reusePort',
])
const OWN_KEYS = new Set(['port', 'exclude', 'reserve', 'host'])

/** The ports of portNumbers(from, to): iterable as often as needed, and passed to core whole. */
class PortRange {
  constructor(from, to) {
    this.from = from
    this.to = to
  }

  *[Symbol.iterator]() {
    for (let port = this.from; port <= this.to; port++) yield port
  }
}

/**
 * The port numbers from `from` to `to`, both included. Both must be integers in 1024-65535,
 * `to` at least `from`: a TypeError or RangeError otherwise, as get-port throws.
 */
function portNumbers(from, to) {
  if (!Number.isInteger(from) || !Number.isInteger(to)) {
    throw new TypeError('`from` and `to` must be integer numbers')
  }
  if (from < 1024 || from > 65535) throw new RangeError("'from' must be between 1024 and 65535")
  if (to < 1024 || to > 65535) throw new RangeError("'to' must be between 1024 and 65535")
  if (to < from) throw new RangeError('`to` must be greater than or equal to `from`')
  return new PortRange(from, to)
}

// What this process leased through getPort: lease name -> when a lease without `reserve`
// expires (ms since the epoch), or null for a reserved one.
// Their names are core's for unnamed leases, unique on the host.
const state = {
  leases: new Map(),
}

let handles = null

/**
 * The default registry, as `new Registry()` chooses it now, through cached handles: `wait`,
 * with the usual lock timeout, and `now`, on the same file with none, for a first attempt
 * that never waits for another process's lock.
 */
function defaultRegistry() {
  const current = new Registry()
  if (handles === null || handles.wait.path !== current.path) {
    handles = { wait: current, now: new Registry(current.path, { lockTimeout: 0 }) }
  }
  return handles
}

function ports(value, what) {
  if (typeof value === 'number') return [value]
  if (value == null || typeof value === 'string' || typeof value[Symbol.iterator] !== 'function') {
    throw new TypeError(`The \`${what}\` option must be a number or an iterable of numbers.`)
  }
  const list = Array.from(value)
  for (const port of list) {
    if (!Number.isSafeInteger(port)) {
      throw new TypeError(`Number ${String(port)} in the ${what} option is not a safe integer and can't be used`)
    }
  }
  return list
}

function check(options) {
  if (options == null) return {}
  if (typeof options !== 'object') {
    throw new TypeError(`getPort: options must be an object, got ${typeof options}`)
  }
  for (const key of Object.keys(options)) {
    if (!OWN_KEYS.has(key) && !LISTEN_KEYS.has(key)) {
      throw new TypeError(`getPort: unknown option "${key}"`)
    }
  }
  if (options.reserve !== undefined && typeof options.reserve !== 'boolean') {
    throw new TypeError('getPort: the `reserve` option must be a boolean')
  }
  if (options.host !== undefined && typeof options.host !== 'string') {
    throw new TypeError('getPort: the `host` option must be a string (an IPv4 or IPv6 address)')
  }
  if (options.exclude !== undefined && (options.exclude == null || typeof options.exclude[Symbol.iterator] !== 'function')) {
    throw new TypeError('The `exclude` option must be an iterable.')
  }
  return options
}

/**
 * Resolves to a port leased to this process: the first of `options.port` (a number, an
 * iterable, or portNumbers(from, to)) that is neither excluded, leased nor bound, else the
 * next free port of the registry's default pool. Rejects with portpool's `Error` (its `code`,
 * e.g. `PORTPOOL_EXHAUSTED`) when there is none, a TypeError for an option of the wrong
 * type, and an AbortError (leasing nothing) when `options.signal` aborts.
 */
async function getPort(options) {
  const opts = check(options)
  const lease = {
    pid: process.pid,
    ttl: opts.reserve ? undefined : LOCK_SECONDS,
    // This process binds the port itself: one it may not bind (a privileged port, when not
    // root) is unavailable, as get-port finds it.
    bindable: true,
  }
  // The binding's own abort: rejects with an AbortError and leaves no lease behind.
  if (opts.signal !== undefined) lease.signal = opts.signal
  if (opts.exclude !== undefined) lease.exclude = ports(opts.exclude, 'exclude')
  const host = opts.host ?? (opts.ipv6Only ? '::' : undefined)
  if (host !== undefined) lease.host = host
  const name = unnamedLeaseName('get-port', '')
  const reg = defaultRegistry()
  forgetExpired()
  let port
  if (opts.port instanceof PortRange) {
    port = await preferred(reg, name, [], { ...lease, range: [opts.port.from, opts.port.to] })
  } else if (opts.port !== undefined && opts.port !== 0) {
    const list = ports(opts.port, 'port')
    if (list.length > 0) port = await preferred(reg, name, list, lease)
  }
  if (port === undefined) port = await call(reg, 'allocate', [name, lease])
  state.leases.set(name, opts.reserve ? null : Date.now() + LOCK_SECONDS * 1000)
  return port
}

/**
 * `method` of the registry: first one attempt that does not wait for another process's lock
 * (a few tens of µs when nobody holds it), then, when the lock was held, the `…Async` form,
 * which waits for it off the event loop. A call with a signal goes straight to the latter.
 */
async function call(reg, method, args) {
  if (args[args.length - 1].signal === undefined) {
    try {
      return reg.now[method](...args)
    } catch (err) {
      if (err?.code !== 'PORTPOOL_BUSY') throw err
    }
  }
  return reg.wait[`${method}Async`](...args)
}

/**
 * The first free one of the preferred ports (then of the range), or undefined when none is:
 * core says so with a conflict (a list) or exhaustion (a range).
 */
async function preferred(reg, name, list, lease) {
  try {
    return await call(reg, 'register', [name, list, { ...lease, mode: 'fixed' }])
  } catch (err) {
    if (err?.code === 'PORTPOOL_CONFLICT' || err?.code === 'PORTPOOL_EXHAUSTED') return undefined
    throw err
  }
}

function releaseQuietly(reg, name) {
  state.leases.delete(name)
  try {
    // The handle that leased it, which has nothing to catch up on, unless the lock is held.
    try {
      reg.now.release(name)
    } catch (err) {
      if (err?.code !== 'PORTPOOL_BUSY') throw err
      reg.wait.release(name)
    }
  } catch {
    // It lives out its time to live, or until this process exits.
  }
}

function forgetExpired() {
  const now = Date.now()
  for (const [name, expires] of state.leases) {
    if (expires !== null && expires <= now) state.leases.delete(name)
  }
}

/**
 * Releases every lease this process made through getPort, reserved or not: any process may
 * be given those ports again. Use it once the ports are bound, or no longer needed.
 */
function clearLockedPorts() {
  const reg = defaultRegistry()
  for (const name of [...state.leases.keys()]) releaseQuietly(reg, name)
}

module.exports = getPort
module.exports.default = getPort
module.exports.portNumbers = portNumbers
module.exports.clearLockedPorts = clearLockedPorts
module.exports.LOCK_SECONDS = LOCK_SECONDS
