'use strict'
// portpool/get-port: get-port 7's API, where every port returned is a lease owned by this
// process in the default registry. The original get-port (a pinned devDependency) is loaded
// only to compare the API's shape and its argument errors.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')

const { Registry } = require('..')
const getPort = require('../get-port.js')
const { portNumbers, clearLockedPorts, LOCK_SECONDS } = getPort
const { PACKAGE_DIR, tempDir, tempRegistry, listen, close, freeRun } = require('./helpers')

const POOL = [41200, 41239]

/**
 * `n` consecutive ports, all free now, from a range that no other test file uses, below the
 * kernel's ephemeral ports (32768-60999 by default), which outgoing connections take and give
 * back at any time.
 */
function preferred(n) {
  return freeRun(n, 28400, 28900)
}

/** A fresh default registry ($PORTPOOL_REGISTRY) whose default pool does not bind-probe. */
function fresh() {
  clearLockedPorts()
  process.env.PORTPOOL_REGISTRY = tempRegistry()
  const reg = new Registry()
  reg.setPool('default', POOL[0], POOL[1], { probe: false })
  return reg
}

function leaseOf(reg, port) {
  const found = reg.list().filter((l) => l.port === port)
  assert.equal(found.length, 1, `one lease on ${port}: ${JSON.stringify(found)}`)
  return found[0]
}

const original = import(path.join(PACKAGE_DIR, 'node_modules', 'get-port', 'index.js'))

test('the_api_has_get_ports_names_and_its_esm_and_commonjs_entry_points_agree', async () => {
  const orig = await original
  assert.equal(typeof getPort, 'function')
  assert.equal(getPort.length, orig.default.length)
  for (const name of ['portNumbers', 'clearLockedPorts']) {
    assert.equal(typeof getPort[name], 'function', name)
    assert.equal(getPort[name].length, orig[name].length, name)
  }
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(PACKAGE_DIR, path.join(dir, 'node_modules', 'portpool'), 'dir')
  const script = `
    import getPort, { portNumbers, clearLockedPorts } from 'portpool/get-port'
    import { createRequire } from 'node:module'
    const cjs = createRequire(import.meta.url)('portpool/get-port')
    if (getPort !== cjs || getPort !== cjs.default || portNumbers !== cjs.portNumbers ||
        clearLockedPorts !== cjs.clearLockedPorts) throw new Error('two modules')
    console.log(await getPort())
  `
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PORTPOOL_REGISTRY: tempRegistry() },
  })
  assert.match(out.trim(), /^\d+$/)
})

test('a_port_is_leased_to_this_process_for_the_lock_time', async () => {
  const reg = fresh()
  const port = await getPort()
  assert.ok(port >= POOL[0] && port <= POOL[1], `${port}`)
  const lease = leaseOf(reg, port)
  assert.equal(lease.pid, process.pid)
  assert.equal(lease.ttl, LOCK_SECONDS)
  assert.equal(LOCK_SECONDS, 30)
  assert.equal(lease.pool, 'default')
})

test('a_port_is_never_returned_twice_while_its_lease_lives', async () => {
  fresh()
  const ports = []
  for (let i = POOL[0]; i <= POOL[1]; i++) ports.push(await getPort())
  assert.deepEqual([...ports].sort((a, b) => a - b), Array.from({ length: POOL[1] - POOL[0] + 1 }, (_, i) => POOL[0] + i))
  await assert.rejects(getPort(), { code: 'PORTPOOL_EXHAUSTED' })
})

test('reserve_keeps_the_lease_until_clearLockedPorts', async () => {
  const reg = fresh()
  const reserved = await getPort({ reserve: true })
  const locked = await getPort()
  const lease = leaseOf(reg, reserved)
  assert.equal(lease.pid, process.pid)
  assert.equal(lease.ttl, null)
  assert.equal(lease.expires, null)
  clearLockedPorts()
  assert.deepEqual(reg.list().filter((l) => l.port === reserved || l.port === locked), [])
})

test('a_reserved_lease_is_reclaimed_once_the_process_exits', async () => {
  const reg = fresh()
  const child = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(PACKAGE_DIR, 'get-port.js'))})({ reserve: true }).then(console.log)`],
    { encoding: 'utf8', env: process.env },
  )
  assert.equal(child.status, 0, child.stderr)
  const port = Number(child.stdout)
  assert.match(leaseOf(reg, port).stale, /is gone/)
  assert.deepEqual(reg.gc().map((r) => r.lease.port), [port])
})

test('the_first_free_preferred_port_is_returned_else_one_of_the_pool', async () => {
  const reg = fresh()
  const [a, b] = preferred(2)
  assert.equal(await getPort({ port: a }), a)
  assert.equal(await getPort({ port: [a, b] }), b, 'a is leased by the first call')
  const third = await getPort({ port: [a, b] })
  assert.ok(third >= POOL[0] && third <= POOL[1], `${third}`)
  assert.equal(leaseOf(reg, b).pid, process.pid)
})

test('a_preferred_port_that_is_bound_or_leased_to_another_process_is_skipped', async () => {
  const reg = fresh()
  const server = await listen(0)
  const bound = server.address().port
  try {
    const [taken, free] = preferred(2)
    reg.register('someone-else', taken, { mode: 'fixed' })
    assert.equal(await getPort({ port: [bound, taken, free] }), free)
  } finally {
    await close(server)
  }
})

test('port_numbers_are_tried_in_order_and_exclude_is_never_returned', async () => {
  fresh()
  const run = preferred(13)
  assert.equal(await getPort({ port: portNumbers(run[0], run[9]), exclude: [run[0], run[1]] }), run[2])
  assert.equal(await getPort({ port: portNumbers(run[0], run[9]) }), run[0])
  const fromPool = await getPort({ exclude: portNumbers(POOL[0], POOL[1] - 1) })
  assert.equal(fromPool, POOL[1])
  assert.notEqual(await getPort({ port: run[10], exclude: [run[10]] }), run[10])
  const empty = await getPort({ port: [] })
  assert.ok(empty >= POOL[0] && empty <= POOL[1], 'no preferred port: one of the pool')
  // A range none of whose ports is free falls back to the pool, as a list does.
  const [x, y] = run.slice(11)
  const inRange = [await getPort({ port: portNumbers(x, y) }), await getPort({ port: portNumbers(x, y) })]
  assert.deepEqual(inRange.sort(), [x, y])
  const after = await getPort({ port: portNumbers(x, y) })
  assert.ok(after >= POOL[0] && after <= POOL[1], `${after}`)
})

test('port_numbers_is_iterable_and_refuses_what_get_port_refuses_with_the_same_error_class', async () => {
  const orig = await original
  assert.deepEqual([...portNumbers(5000, 5003)], [5000, 5001, 5002, 5003])
  assert.deepEqual([...portNumbers(65535, 65535)], [65535])
  for (const [from, to] of [[1.5, 2000], ['3000', 3001], [NaN, 2000], [2000, undefined], [1023, 2000], [0, 100], [3000, 65536], [3000, 2999]]) {
    let expected
    try {
      orig.portNumbers(from, to)
    } catch (err) {
      expected = err.constructor
    }
    assert.ok(expected, `get-port accepts ${from}, ${to}`)
    assert.throws(() => portNumbers(from, to), expected, `${from}, ${to}`)
  }
})

test('host_checks_only_that_address', async () => {
  fresh()
  const server = await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen({ port: 0, host: '127.0.0.1' }, () => resolve(s))
  })
  try {
    const taken = server.address().port
    assert.notEqual(await getPort({ port: taken, host: '127.0.0.1' }), taken)
    assert.notEqual(await getPort({ port: taken }), taken, 'the wildcards collide with 127.0.0.1')
    assert.equal(await getPort({ port: taken, host: '127.0.0.2' }), taken, 'another address is free')
  } finally {
    await close(server)
  }
})

test('options_of_the_wrong_type_are_type_errors_and_lease_nothing', async () => {
  const reg = fresh()
  for (const options of ['x', 5, { port: '3000' }, { port: [3000, 1.5] }, { exclude: 5 }, { reserve: 'yes' }, { host: 1 }, { frobnicate: 1 }]) {
    await assert.rejects(getPort(options), TypeError, JSON.stringify(options))
  }
  await assert.rejects(getPort({ port: 70000 }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  await assert.rejects(getPort({ host: 'not an address' }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  assert.deepEqual(reg.list(), [])
})

test('listen_options_are_accepted_and_an_aborted_signal_leases_nothing', async () => {
  const reg = fresh()
  assert.ok(await getPort({ backlog: 5, exclusive: true, ipv6Only: false }))
  const before = reg.list().length
  const controller = new AbortController()
  controller.abort(new Error('stop'))
  await assert.rejects(getPort({ signal: controller.signal }), { name: 'AbortError' })
  await assert.rejects(getPort({ port: preferred(1)[0], signal: controller.signal }), { name: 'AbortError' })
  assert.equal(reg.list().length, before)
})

// getPort leases with core's `bindable`: a port this process may not bind (EACCES) is
// unavailable, where a plain lease would judge it by the kernel's socket tables.
test('a_privileged_port_the_caller_cannot_bind_is_unavailable', () => {
  fresh()
  // As root, the check runs as nobody; otherwise as this user.
  const asUser = process.getuid() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
  const script = `require(${JSON.stringify(path.join(PACKAGE_DIR, 'get-port.js'))})({ port: [80, 81] }).then(console.log)`
  const dir = tempDir()
  fs.chmodSync(dir, 0o777)
  const registry = path.join(dir, 'registry.json')
  const [program, ...args] = [...asUser, process.execPath, '-e', script]
  const out = spawnSync(program, args, { encoding: 'utf8', env: { ...process.env, PORTPOOL_REGISTRY: registry } })
  assert.equal(out.status, 0, out.stderr)
  assert.ok(![80, 81].includes(Number(out.stdout)), `a non-root process was given ${out.stdout}`)
})

test('processes_asking_at_once_never_share_a_port', async () => {
  fresh()
  const worker = `
    const getPort = require(${JSON.stringify(path.join(PACKAGE_DIR, 'get-port.js'))})
    ;(async () => { const p = []; for (let i = 0; i < 4; i++) p.push(await getPort()); console.log(p.join(' ')) })()
  `
  const runs = Array.from({ length: 8 }, () =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', worker], { env: process.env })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('exit', (code) => (code === 0 ? resolve(out.trim().split(' ').map(Number)) : reject(new Error(`exit ${code}`))))
    }),
  )
  const ports = (await Promise.all(runs)).flat()
  assert.equal(ports.length, 32)
  assert.equal(new Set(ports).size, 32)
})
