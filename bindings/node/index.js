'use strict'
// The npm package `portpool`: the native addon (built from src/lib.rs by `make build`) with
// two additions made here. When napi-rs refuses an argument's type (a number where a name is
// expected, a string where a port is, an options argument that is not an object), the call
// throws a `TypeError` — and an `…Async` call returns a Promise rejected with it — instead of
// a plain `Error`; and `Registry` called without `new` is a `TypeError`, as for any class.
// Every other behaviour, and every rule about values, is the addon's.

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

function wrap(fn, name) {
  const isAsync = name.endsWith('Async')
  const wrapped = {
    [name](...args) {
      try {
        return fn.apply(this, args)
      } catch (err) {
        if (isAsync) return Promise.reject(retype(err))
        throw retype(err)
      }
    },
  }[name]
  return wrapped
}

const proto = native.Registry.prototype
for (const key of Object.getOwnPropertyNames(proto)) {
  const desc = Object.getOwnPropertyDescriptor(proto, key)
  if (key !== 'constructor' && typeof desc.value === 'function') {
    Object.defineProperty(proto, key, { ...desc, value: wrap(desc.value, key) })
  }
}

const Registry = new Proxy(native.Registry, {
  // Like a JavaScript class: calling it without `new` is a TypeError (the bare napi-rs
  // constructor would wrap whatever `this` is, the global object included).
  apply() {
    throw new TypeError("Class constructor Registry cannot be invoked without 'new'")
  },
  construct(target, args, newTarget) {
    try {
      return Reflect.construct(target, args, newTarget === Registry ? target : newTarget)
    } catch (err) {
      throw retype(err)
    }
  },
})

/** Whether `err` is an error portpool raised: an `Error` whose `code` is `PORTPOOL_…`. */
function isPortpoolError(err) {
  return err instanceof Error && typeof err.code === 'string' && err.code.startsWith('PORTPOOL_')
}

module.exports = {
  Registry,
  isPortpoolError,
  isFree: wrap(native.isFree, 'isFree'),
  findFree: wrap(native.findFree, 'findFree'),
  VERSION: native.VERSION,
}
