'use strict'
// The npm package `portpool`: the native addon (built from src/ by `make build`) with what only
// JavaScript can do around it. Every rule about values is the addon's (and core's).
//
// - Each `…Async` method of the addon makes one attempt that waits at most a few milliseconds
//   for the registry's lock on a libuv thread (see src/lib.rs). Here a busy attempt is retried
//   from a timer, with back-off, until the handle's lock timeout: no libuv thread ever waits for
//   another process, `process.exit()` and `worker.terminate()` never wait for the lock, and
//   `{ signal }` (an AbortSignal) ends a call at once. A lease that landed after the abort is
//   released again, and a socket it handed out (`listen`'s `fd`) closed, before the Promise
//   rejects with an `AbortError` (a DOMException).
// - Async rejections carry the caller's stack, captured when the call was made.
// - A string argument that is not well-formed UTF-16 (a lone surrogate, which the addon's
//   conversion would turn into U+FFFD, folding different names together) is
//   PORTPOOL_INVALID_ARGUMENT.
// - A type napi-rs refuses (a number where a name is expected, an unknown option key) is a
//   `TypeError`; `Registry` called without `new` is a `TypeError`, as for any class; and a
//   `Registry` given to structuredClone or postMessage throws a `DataCloneError` saying what
//   to send instead.

const fs = require('node:fs')

function loadAddon() {
  try {
    return require('./portpool.node')
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('portpool.node')) {
      err.message =
        `portpool: the native addon ${__dirname}/portpool.node is not built; ` +
        'run `make -C bindings/node release` in the portpool clone, or install the package from ' +
        'the tarball `npm pack` makes there'
    }
    throw err
  }
}

const native = loadAddon()

// The `code`s napi-rs gives a failed argument conversion.
const TYPE_CODES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
])

function retype(err) {
  if (err instanceof Error && !(err instanceof TypeError) && TYPE_CODES.has(err.code)) {
    const typeError = new TypeError(err.message)
    typeError.code = 'ERR_INVALID_ARG_TYPE'
    return typeError
  }
  return err
}

/** Gives `err` the stack captured at the call site (`site`), below its own first line. */
function withStack(err, site) {
  if (err instanceof Error && typeof site.stack === 'string') {
    const frames = site.stack.slice(site.stack.indexOf('\n') + 1)
    err.stack = `${err.name}: ${err.message}\n${frames}`
  }
  return err
}

/** Refuses a string that is not well-formed UTF-16, naming where it was (`what`). */
function checkWellFormed(value, what) {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) {
      const err = new Error(
        `invalid ${what} ${JSON.stringify(value)}: contains a lone surrogate, which is not valid Unicode`,
      )
      err.code = 'PORTPOOL_INVALID_ARGUMENT'
      throw err
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkWellFormed(item, `${what}[${i}]`))
  } else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const key of Object.keys(value)) checkWellFormed(value[key], `${what}.${key}`)
  }
}

function checkArgs(args, names) {
  args.forEach((arg, i) => checkWellFormed(arg, names[i] ?? 'options'))
}

function abortError(signal) {
  return new DOMException('The operation was aborted', { name: 'AbortError', cause: signal.reason })
}

/**
 * Takes `signal` out of the options at `index` of `args` (a copy without it goes to the
 * addon, which refuses any key it does not know); returns the signal, if any.
 */
function takeSignal(args, index) {
  const options = args[index]
  if (options === null || typeof options !== 'object' || !('signal' in options)) return undefined
  const { signal, ...rest } = options
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    const err = new TypeError('options.signal must be an AbortSignal')
    err.code = 'ERR_INVALID_ARG_TYPE'
    throw err
  }
  args[index] = rest
  return signal
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

const FIRST_PAUSE_MS = 1
const LONGEST_PAUSE_MS = 50

/**
 * Runs `attempt()` (one try of an addon `…Async` method, resolving to `{ value, created }`)
 * until it is not busy, the lock timeout (`seconds`) has passed, or `signal` aborts. On an
 * abort after the call landed, `undo(outcome)` undoes what it made before the rejection.
 */
async function retry(attempt, seconds, signal, undo) {
  if (signal?.aborted) throw abortError(signal)
  const deadline = performance.now() + seconds * 1000
  let wait = FIRST_PAUSE_MS
  for (;;) {
    let outcome
    try {
      outcome = await attempt()
    } catch (err) {
      if (signal?.aborted) throw abortError(signal)
      const left = deadline - performance.now()
      if (err?.code !== 'PORTPOOL_BUSY' || left <= 0) throw retype(err)
      await pause(Math.min(wait, left), signal)
      if (signal?.aborted) throw abortError(signal)
      wait = Math.min(wait * 2, LONGEST_PAUSE_MS)
      continue
    }
    if (signal?.aborted) {
      await undo(outcome)
      throw abortError(signal)
    }
    return outcome.value
  }
}

/** `fn` under `name`, with the checks and error types every call shares. */
function syncForm(fn, name, argNames) {
  return {
    [name](...args) {
      try {
        checkArgs(args, argNames)
        return fn.apply(this, args)
      } catch (err) {
        throw retype(err)
      }
    },
  }[name]
}

/** The public `…Async` method around the addon's one-attempt method `attempt`. */
function asyncForm(attempt, name, argNames, undo) {
  const method = {
    [name](...args) {
      const site = {}
      Error.captureStackTrace(site, method)
      let signal
      try {
        checkArgs(args, argNames)
        signal = takeSignal(args, argNames.length)
      } catch (err) {
        return Promise.reject(withStack(retype(err), site))
      }
      const seconds = this instanceof native.ScopedLease ? this.__lockTimeout : this.lockTimeout
      const undoFor = (outcome) => undo.call(this, outcome, args)
      return retry(() => attempt.apply(this, args), seconds, signal, undoFor).catch((err) => {
        throw withStack(err, site)
      })
    },
  }[name]
  return method
}

/**
 * Undoes what a call that was aborted after it landed made: closes the socket it handed out
 * (`listen` and `listenScoped` give it as `fd`), and releases the lease when the call made it
 * (`created`).
 */
async function undoCall({ value, created, made }, args) {
  if (typeof value?.fd === 'number') fs.closeSync(value.fd)
  // Core's Grant::undo: only while the name still holds the port this call gave it.
  const options = args.slice(1).find((a) => a !== null && typeof a === 'object' && !Array.isArray(a))
  const undo = (name, port) => retry(() => nativeUndo.call(this, name, port, options?.protocol), this.lockTimeout)
  // A batch (allocateMany): the names whose leases this call made, not those already held.
  const names = made?.length ? Array.from(args[0]) : []
  for (const name of made ?? []) await undo(name, value[names.indexOf(name)])
  if (!created) return
  if (value instanceof native.ScopedLease) await value.releaseAsync()
  else await undo(args[0], typeof value === 'number' ? value : value.port)
}

/** Undoes a `beginHandover` aborted after it landed: aborts the handover, if it began it. */
async function undoHandover({ created }, args) {
  if (created) await this.abortHandoverAsync(args[0], { pid: args[1]?.pid })
}

/** Undoes a ticketed begin aborted after it landed: aborts the handovers it began, by ticket. */
async function undoTickets({ value, created }) {
  if (!created) return
  const begun = Array.isArray(value) ? value : [value]
  await this.abortHandoversAsync(begun.map(({ name, ticket }) => ({ name, ticket })))
}

const undos = {
  beginHandoverAsync: undoHandover,
  beginHandoverTicketAsync: undoTickets,
  beginHandoversAsync: undoTickets,
}

const registryProto = native.Registry.prototype
// The addon's undo (core's Grant::undo) is this module's own, not a method users see.
const nativeUndo = registryProto.__undo
delete registryProto.__undo
const define = (proto, key, value) =>
  Object.defineProperty(proto, key, { ...Object.getOwnPropertyDescriptor(proto, key), value })

for (const op of native.__operations()) {
  define(registryProto, op.sync, syncForm(registryProto[op.sync], op.sync, op.args))
  const undo = undos[op.async] ?? undoCall
  define(registryProto, op.async, asyncForm(registryProto[op.async], op.async, op.args, undo))
}

const scopedProto = native.ScopedLease.prototype
define(scopedProto, 'release', syncForm(scopedProto.release, 'release', []))
define(scopedProto, 'releaseAsync', asyncForm(scopedProto.releaseAsync, 'releaseAsync', [], undoCall))
Object.defineProperties(scopedProto, {
  [Symbol.dispose]: {
    value: function dispose() {
      this.release()
    },
    configurable: true,
    writable: true,
  },
  [Symbol.asyncDispose]: {
    value: async function asyncDispose() {
      await this.releaseAsync()
    },
    configurable: true,
    writable: true,
  },
})

/**
 * What structuredClone and postMessage read of a Registry: an own enumerable property whose
 * getter throws, so that a clone fails loudly instead of arriving as `{}`.
 */
const cloneGuard = {
  enumerable: true,
  get() {
    throw new DOMException(
      `a portpool Registry cannot be cloned or posted to another thread; send its path (${this.path}) ` +
        'and open `new Registry(path)` there',
      'DataCloneError',
    )
  },
}

const Registry = new Proxy(native.Registry, {
  // Like a JavaScript class: calling it without `new` is a TypeError (the bare napi-rs
  // constructor would wrap whatever `this` is, the global object included).
  apply() {
    throw new TypeError("Class constructor Registry cannot be invoked without 'new'")
  },
  construct(target, args, newTarget) {
    let reg
    try {
      checkArgs(args, ['path', 'options'])
      reg = Reflect.construct(target, args, newTarget === Registry ? target : newTarget)
    } catch (err) {
      throw retype(err)
    }
    return Object.defineProperty(reg, 'uncloneable', cloneGuard)
  },
})

/** Whether `err` is an error portpool raised: an `Error` whose `code` is `PORTPOOL_…`. */
function isPortpoolError(err) {
  return err instanceof Error && typeof err.code === 'string' && err.code.startsWith('PORTPOOL_')
}

module.exports = {
  Registry,
  ScopedLease: native.ScopedLease,
  isPortpoolError,
  isFree: syncForm(native.isFree, 'isFree', ['port', 'options']),
  findFree: syncForm(native.findFree, 'findFree', ['options']),
  unnamedLeaseName: native.unnamedLeaseName,
  VERSION: native.VERSION,
}
