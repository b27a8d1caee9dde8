'use strict'
// The Promise twins: same results and errors as the synchronous calls, computed off the main
// thread so the event loop keeps running while a call waits for the registry's lock.

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { test } = require('node:test')

const { Registry, findFree } = require('..')
const { tempRegistry } = require('./helpers')

function open() {
  return new Registry(tempRegistry())
}

test('every_async_twin_resolves_to_what_its_synchronous_call_returns', async () => {
  const reg = open()
  const port = findFree()
  const registered = reg.registerAsync('web', port, { mode: 'fixed', ttl: 60 })
  assert.ok(registered instanceof Promise)
  assert.equal(await registered, port)
  assert.equal(await reg.getAsync('web'), port)
  assert.equal(await reg.getAsync('nobody'), null)
  assert.deepEqual(await reg.setPoolAsync('p', 46500, 46509, { probe: false }), {
    name: 'p',
    start: 46500,
    end: 46509,
    cursor: 46500,
    probe: false,
    uid: process.geteuid(),
  })
  assert.equal(await reg.allocateAsync('w1', { pool: 'p' }), 46500)
  assert.deepEqual(await reg.listAsync(), reg.list())
  assert.deepEqual(await reg.poolsAsync(), reg.pools())
  assert.deepEqual(await reg.checkAsync(port), reg.check(port))
  assert.equal((await reg.checkAsync(port, 'tcp')).lease.name, 'web')
  const renewed = await reg.renewAsync('web', 120)
  assert.equal(renewed.ttl, 120)
  assert.deepEqual(renewed, reg.list().find((l) => l.name === 'web'))
  assert.deepEqual(await reg.gcAsync(), [])
  assert.equal(await reg.releaseAsync('w1'), true)
  assert.equal(await reg.releaseAsync('w1'), false)
  assert.equal(await reg.resetAsync(), undefined)
  assert.deepEqual(reg.list(), [])
})

test('gc_async_returns_the_reclaimed_leases', async () => {
  const reg = open()
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await once(child, 'spawn')
  reg.register('child', findFree(), { pid: child.pid })
  child.kill('SIGKILL')
  await once(child, 'exit')
  const reclaimed = await reg.gcAsync()
  assert.deepEqual(
    reclaimed.map((r) => [r.lease.name, r.reason]),
    [['child', `owner pid ${child.pid} is gone`]],
  )
})

test('async_twins_reject_with_the_same_error_as_their_synchronous_calls', async () => {
  const reg = open()
  const cases = [
    [() => reg.register('web', 70000), () => reg.registerAsync('web', 70000)],
    [() => reg.allocate('w', { pool: 'nope' }), () => reg.allocateAsync('w', { pool: 'nope' })],
    [() => reg.renew('nobody'), () => reg.renewAsync('nobody')],
    [() => reg.setPool('p', 10, 5), () => reg.setPoolAsync('p', 10, 5)],
    [() => reg.check(0), () => reg.checkAsync(0)],
    [() => reg.get(''), () => reg.getAsync('')],
    [() => reg.release(''), () => reg.releaseAsync('')],
  ]
  for (const [sync, async] of cases) {
    let expected
    try {
      sync()
    } catch (err) {
      expected = err
    }
    assert.ok(expected, String(sync))
    const promise = async()
    assert.ok(promise instanceof Promise, 'rejects, does not throw')
    await assert.rejects(promise, (err) => {
      assert.ok(err instanceof Error)
      assert.equal(err.code, expected.code)
      assert.equal(err.message, expected.message)
      return true
    })
  }
})

test('async_twins_reject_on_registry_io_and_conflict_errors', async () => {
  const fs = require('node:fs')
  const path = tempRegistry()
  fs.writeFileSync(path, '{"version": 99}')
  const broken = new Registry(path)
  for (const call of [() => broken.listAsync(), () => broken.poolsAsync(), () => broken.resetAsync(), () => broken.gcAsync()]) {
    await assert.rejects(call(), { code: 'PORTPOOL_REGISTRY' })
  }
  const reg = open()
  const port = await reg.registerAsync('a', findFree(), { mode: 'fixed' })
  await assert.rejects(reg.registerAsync('b', port, { mode: 'fixed' }), {
    code: 'PORTPOOL_CONFLICT',
    message: `port ${port}/tcp is leased to "a"`,
  })
  await reg.setPoolAsync('one', 46600, 46600, { probe: false })
  await reg.allocateAsync('x', { pool: 'one' })
  await assert.rejects(reg.allocateAsync('y', { pool: 'one' }), { code: 'PORTPOOL_EXHAUSTED' })
})

test('async_twins_reject_wrong_argument_types_with_a_type_error', async () => {
  const reg = open()
  const calls = [
    () => reg.registerAsync(5, 8080),
    () => reg.registerAsync('web', '8080'),
    () => reg.allocateAsync('web', 5),
    () => reg.getAsync(),
    () => reg.releaseAsync(1),
    () => reg.setPoolAsync('p', '1', 2),
    () => reg.renewAsync('web', 'soon'),
    () => reg.checkAsync('80'),
  ]
  for (const call of calls) {
    const promise = call()
    assert.ok(promise instanceof Promise, `${call}: returns a Promise`)
    await assert.rejects(promise, TypeError)
  }
})

test('many_async_calls_at_once_hand_out_distinct_ports', async () => {
  const reg = open()
  await reg.setPoolAsync('p', 46700, 46799, { probe: false })
  const names = Array.from({ length: 40 }, (_, i) => `w${i}`)
  const ports = await Promise.all(names.map((n) => reg.allocateAsync(n, { pool: 'p' })))
  assert.equal(new Set(ports).size, names.length)
  for (const [i, name] of names.entries()) assert.equal(reg.get(name), ports[i])
})

test('the_event_loop_runs_while_an_async_call_waits_for_the_lock', async () => {
  const path = tempRegistry()
  const reg = new Registry(path)
  reg.reset() // creates the registry and its lock file
  // A process outside this one holds the registry's lock until its stdin closes.
  const holder = spawn('flock', ['--exclusive', `${path}.lock`, '-c', 'echo locked; read _'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const [line] = await once(holder.stdout, 'data')
  assert.equal(line.toString().trim(), 'locked')

  let settled = false
  const pending = reg.registerAsync('web', findFree()).finally(() => {
    settled = true
  })
  // The main thread is free: timers and I/O run while the call waits on the lock.
  let ticks = 0
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    ticks++
  }
  assert.equal(ticks, 5)
  assert.equal(settled, false, 'the call waits while another process holds the lock')

  holder.stdin.end()
  await once(holder, 'exit')
  const port = await pending
  assert.equal(reg.get('web'), port)
})
