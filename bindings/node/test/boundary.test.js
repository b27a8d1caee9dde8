'use strict'
// The binding's boundary as Node users meet it: AbortSignal, exiting while a call waits,
// strict options, stacks, cloning, libuv's thread pool, string conversion, scoped leases,
// pool warnings and the operations every front end has.

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const dns = require('node:dns/promises')
const { once } = require('node:events')
const fsp = require('node:fs/promises')
const { test } = require('node:test')
const { Worker } = require('node:worker_threads')

const { Registry, ScopedLease, findFree } = require('..')
const { PACKAGE_DIR, tempRegistry } = require('./helpers')

/** A registry whose lock another process holds until `release()` is awaited. */
async function heldRegistry(options) {
  const path = tempRegistry()
  const reg = new Registry(path, options)
  reg.reset() // creates the registry and its lock file
  const holder = spawn('flock', ['--exclusive', `${path}.lock`, '-c', 'echo locked; read _'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const [line] = await once(holder.stdout, 'data')
  assert.equal(line.toString().trim(), 'locked')
  const release = async () => {
    holder.stdin.end()
    await once(holder, 'exit')
  }
  return { path, reg, release }
}

/** assert.rejects's check for an AbortError as Node's own APIs give it: a DOMException. */
function isAbortError(err) {
  assert.ok(err instanceof DOMException, String(err))
  assert.equal(err.name, 'AbortError')
  return true
}

function settledFlag(promise) {
  const state = { settled: false }
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  )
  return state
}

test('abort_signal_rejects_with_an_abort_error_and_leaves_no_lease', async () => {
  const { reg, release } = await heldRegistry()
  try {
    const controller = new AbortController()
    const pending = reg.allocateAsync('waiter', { signal: controller.signal })
    const scoped = reg.lease('scoped-waiter', { signal: controller.signal })
    await new Promise((resolve) => setTimeout(resolve, 50))
    controller.abort()
    for (const result of await Promise.allSettled([pending, scoped])) {
      assert.equal(result.status, 'rejected')
      isAbortError(result.reason)
    }
  } finally {
    await release()
  }
  assert.deepEqual(reg.list(), [])
})

test('abort_signal_releases_a_lease_that_landed_after_the_abort_and_only_that', async () => {
  const reg = new Registry(tempRegistry())
  const held = reg.allocate('held')
  const controller = new AbortController()
  // The attempts run on libuv's pool and land; the abort comes before their results do.
  const calls = [
    reg.allocateAsync('fresh', { signal: controller.signal }),
    reg.registerAsync('fresh-fixed', findFree(), { signal: controller.signal }),
    reg.lease('fresh-scoped', { signal: controller.signal }),
    reg.allocateAsync('held', { signal: controller.signal }),
  ]
  controller.abort()
  const results = await Promise.allSettled(calls)
  for (const result of results) {
    assert.equal(result.status, 'rejected')
    isAbortError(result.reason)
  }
  assert.deepEqual(
    reg.list().map((l) => [l.name, l.port]),
    [['held', held]],
    'the lease the name held before the call is kept',
  )
})

test('abort_signal_undoes_exactly_what_a_batch_or_a_handover_made_after_it_landed', async () => {
  const reg = new Registry(tempRegistry())
  const held = reg.allocate('held')
  const svc = reg.allocate('svc')
  const controller = new AbortController()
  const calls = [
    reg.allocateManyAsync(['held', 'batch-1', 'batch-2'], { signal: controller.signal }),
    reg.beginHandoverAsync('svc', { signal: controller.signal }),
  ]
  controller.abort()
  for (const result of await Promise.allSettled(calls)) {
    assert.equal(result.status, 'rejected')
    isAbortError(result.reason)
  }
  assert.deepEqual(
    reg.list().map((l) => [l.name, l.port, l.next]),
    [
      ['held', held, null],
      ['svc', svc, null],
    ],
    'the batch gave back only its own leases and the handover was aborted',
  )
})

test('an_already_aborted_signal_rejects_without_calling', async () => {
  const reg = new Registry(tempRegistry())
  await assert.rejects(reg.allocateAsync('x', { signal: AbortSignal.abort() }), isAbortError)
  await assert.rejects(reg.listAsync({ signal: AbortSignal.abort() }), isAbortError)
  assert.deepEqual(reg.list(), [])
  await assert.rejects(reg.getAsync('x', { signal: 'soon' }), TypeError)
})

test('process_exit_during_a_waiting_async_call_exits_without_waiting_for_the_lock', async () => {
  const { path, release } = await heldRegistry()
  try {
    const script = `
      const { Registry } = require(${JSON.stringify(PACKAGE_DIR)})
      const reg = new Registry(${JSON.stringify(path)})
      for (let i = 0; i < 4; i++) reg.allocateAsync('w' + i).catch(() => {})
      setTimeout(() => { console.log(Date.now()); process.exit(0) }, 300)
    `
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const [code] = await once(child, 'exit')
    const exited = Date.now()
    assert.equal(code, 0)
    const took = exited - Number(out.trim())
    // The waiting calls would hold the process for their 10 s lock timeout; it exits without
    // waiting for them (how soon is a benchmark's business: this machine may be loaded).
    assert.ok(took < 5000, `exited ${took} ms after process.exit()`)
  } finally {
    await release()
  }
})

test('worker_terminate_does_not_wait_for_the_lock', async () => {
  const { path, reg, release } = await heldRegistry()
  try {
    const source = `
      const { parentPort } = require('node:worker_threads')
      const { Registry } = require(${JSON.stringify(PACKAGE_DIR)})
      const reg = new Registry(${JSON.stringify(path)})
      reg.allocateAsync('in-worker').catch(() => {})
      parentPort.postMessage('waiting')
    `
    const worker = new Worker(source, { eval: true })
    await once(worker, 'message')
    await new Promise((resolve) => setTimeout(resolve, 50))
    await worker.terminate()
    // The lock is still held: termination did not wait for it.
    assert.equal(reg.lockTimeout, 10)
  } finally {
    await release()
  }
  assert.equal(reg.get('in-worker'), null)
})

test('four_waiting_async_calls_leave_libuv_free_for_fs_and_dns', async () => {
  const { reg, release } = await heldRegistry()
  try {
    const waiting = [0, 1, 2, 3].map((i) => settledFlag(reg.allocateAsync(`w${i}`).catch(() => {})))
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Both use libuv's pool (4 threads by default).
    const text = await fsp.readFile(__filename, 'utf8')
    const address = await dns.lookup('localhost')
    assert.match(text, /four_waiting_async_calls/)
    assert.ok(address.address)
    assert.ok(waiting.every((w) => !w.settled), 'the four calls still wait for the lock')
  } finally {
    await release()
  }
})

test('unknown_option_keys_are_type_errors_in_every_options_object', async () => {
  const reg = new Registry(tempRegistry())
  const port = findFree()
  const calls = [
    () => reg.register('web', port, { tll: 60 }),
    () => reg.allocate('web', { pol: 'default' }),
    () => reg.allocateMany(['a'], { tll: 1 }),
    () => reg.setPool('p', 47100, 47109, { probes: false }),
    () => reg.beginHandover('web', { pids: 1 }),
    () => reg.migrate({ dry_run: true }),
    () => reg.leaseSync('web', { prot: 'tcp' }),
    () => reg.register('web', port, { signal: AbortSignal.abort() }),
    () => new Registry(tempRegistry(), { lockTimout: 1 }),
  ]
  for (const call of calls) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof TypeError, `${call}: ${err}`)
      assert.match(err.message, /unknown option "\w+"/)
      return true
    })
  }
  await assert.rejects(reg.registerAsync('web', port, { tll: 60 }), TypeError)
  await assert.rejects(reg.getAsync('web', { sigal: null }), TypeError)
  await assert.rejects(reg.lease('web', { tll: 60 }), /unknown option "tll" \(ScopeOptions takes: pool, port/)
  assert.deepEqual(reg.list(), [])
})

test('async_rejections_carry_the_callers_stack', async () => {
  const reg = new Registry(tempRegistry())
  async function someCallerOfPortpool() {
    return reg.registerAsync('web', 70000)
  }
  await assert.rejects(someCallerOfPortpool(), (err) => {
    assert.equal(err.code, 'PORTPOOL_INVALID_ARGUMENT')
    assert.match(err.stack, /^Error: invalid port 70000/)
    assert.match(err.stack, /someCallerOfPortpool/)
    assert.match(err.stack, /boundary\.test\.js/)
    return true
  })
})

test('structured_clone_and_post_message_of_a_registry_throw_a_clear_error', () => {
  const reg = new Registry(tempRegistry())
  for (const clone of [(v) => structuredClone(v), (v) => new MessageChannel().port1.postMessage(v)]) {
    assert.throws(
      () => clone(reg),
      (err) => {
        assert.equal(err.name, 'DataCloneError')
        assert.ok(err.message.includes(reg.path), err.message)
        assert.match(err.message, /new Registry\(path\)/)
        return true
      },
    )
  }
  assert.equal(structuredClone(reg.path), reg.path)
})

test('names_with_lone_surrogates_are_invalid_arguments', async () => {
  const reg = new Registry(tempRegistry())
  for (const name of ['a\uD800b', 'a\uDC00b', '\uD800']) {
    assert.throws(() => reg.register(name, findFree()), { code: 'PORTPOOL_INVALID_ARGUMENT', message: /lone surrogate/ })
    assert.throws(() => reg.allocate(name), { code: 'PORTPOOL_INVALID_ARGUMENT' })
    assert.throws(() => reg.get(name), { code: 'PORTPOOL_INVALID_ARGUMENT' })
    assert.throws(() => reg.allocate('ok', { pool: name }), { code: 'PORTPOOL_INVALID_ARGUMENT', message: /options\.pool/ })
    assert.throws(() => reg.allocateMany(['ok', name]), { code: 'PORTPOOL_INVALID_ARGUMENT', message: /names\[1\]/ })
    await assert.rejects(reg.allocateAsync(name), { code: 'PORTPOOL_INVALID_ARGUMENT' })
    await assert.rejects(reg.lease(name), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  }
  assert.deepEqual(reg.list(), [])
  // A well-formed pair is one character, and a name like any other.
  assert.equal(reg.allocate('a\uD83D\uDE00b'), reg.get('a\uD83D\uDE00b'))
})

test('a_scoped_lease_is_new_owned_by_this_process_and_released_by_its_block', async () => {
  const reg = new Registry(tempRegistry())
  const lease = await reg.lease('job')
  assert.ok(lease instanceof ScopedLease)
  assert.equal(lease.name, 'job')
  assert.equal(reg.get('job'), lease.port)
  assert.equal(reg.list()[0].pid, process.pid)
  await assert.rejects(reg.lease('job'), { code: 'PORTPOOL_CONFLICT' })
  assert.throws(() => reg.leaseSync('job'), { code: 'PORTPOOL_CONFLICT' })
  await lease[Symbol.asyncDispose]()
  assert.equal(lease.released, true)
  assert.equal(reg.get('job'), null)
  assert.equal(await lease.releaseAsync(), false, 'a scope ends once')

  const port = findFree()
  const sync = reg.leaseSync('fixed', { port, mode: 'fixed', ttl: 60 })
  assert.equal(sync.port, port)
  sync[Symbol.dispose]()
  assert.equal(reg.get('fixed'), null)
  assert.throws(() => reg.leaseSync('x', { pool: 'default', port }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
})

test('a_scoped_lease_leaves_alone_a_lease_its_name_no_longer_holds', async () => {
  const reg = new Registry(tempRegistry())
  const lease = await reg.lease('job')
  reg.release('job')
  const again = reg.allocate('job')
  assert.equal(await lease.releaseAsync(), false)
  assert.equal(reg.get('job'), again)
})

test('set_pool_emits_each_warning_and_returns_the_pool', async () => {
  const reg = new Registry(tempRegistry())
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    // Inside every Linux default ephemeral range (32768-60999).
    const pool = reg.setPool('eph', 40000, 40009, { probe: false })
    assert.deepEqual(pool, { name: 'eph', start: 40000, end: 40009, cursor: 40000, probe: false, uid: process.geteuid() })
    assert.deepEqual(await reg.setPoolAsync('eph2', 40010, 40019), reg.pools().find((p) => p.name === 'eph2'))
    reg.setPool('quiet', 2000, 2009)
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.deepEqual(
    warnings.map((w) => [w.code, /eph2? \(/.test(w.message)]),
    [
      ['PORTPOOL_POOL_WARNING', true],
      ['PORTPOOL_POOL_WARNING', true],
    ],
  )
})

test('doctor_allocate_many_and_set_owner_are_there_sync_and_async', async () => {
  const reg = new Registry(tempRegistry())
  reg.setPool('p', 2100, 2109, { probe: false })
  assert.deepEqual(reg.allocateMany(['a', 'b'], { pool: 'p' }), [2100, 2101])
  assert.deepEqual(await reg.allocateManyAsync(['c'], { pool: 'p' }), [2102])
  assert.throws(() => reg.allocateMany(['d', 'd'], { pool: 'p' }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  assert.equal(reg.setOwner('a', process.pid).pid, process.pid)
  assert.equal((await reg.setOwnerAsync('a', null)).pid, null)
  assert.throws(() => reg.setOwner('nobody', 1), { code: 'PORTPOOL_NOT_FOUND' })
  const report = reg.doctor()
  assert.ok(Array.isArray(report.findings))
  assert.ok(report.unavailable === null || typeof report.unavailable === 'string')
  assert.deepEqual(await reg.doctorAsync(), report)
})
