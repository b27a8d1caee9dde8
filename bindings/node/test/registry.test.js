'use strict'
// Every Registry method and free function, synchronous form, on scratch registries.

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { test } = require('node:test')

const { Registry, isFree, findFree, VERSION } = require('..')
const { tempRegistry, listen, close } = require('./helpers')

function open() {
  return new Registry(tempRegistry())
}

test('register_returns_the_port_and_get_reads_it_back', () => {
  const reg = open()
  const port = findFree()
  assert.equal(reg.register('web', port), port)
  assert.equal(reg.get('web'), port)
  assert.equal(reg.get('nobody'), null)
})

test('register_of_a_name_that_holds_a_lease_returns_its_port', () => {
  const reg = open()
  const port = reg.register('web', findFree())
  assert.equal(reg.register('web', findFree()), port)
  assert.equal(reg.list().length, 1)
})

test('flexible_register_skips_ports_leased_to_others', () => {
  const reg = open()
  const port = findFree()
  assert.equal(reg.register('a', port, { mode: 'fixed' }), port)
  const next = reg.register('b', port, { mode: 'flexible' })
  assert.ok(next > port, `${next} > ${port}`)
  assert.equal(reg.register('c', port), reg.get('c'))
  assert.notEqual(reg.get('c'), port)
  assert.notEqual(reg.get('c'), next)
})

test('fixed_register_of_a_port_leased_to_another_name_is_a_conflict_naming_the_holder', () => {
  const reg = open()
  const port = reg.register('a', findFree(), { mode: 'fixed' })
  assert.throws(() => reg.register('b', port, { mode: 'fixed' }), {
    code: 'PORTPOOL_CONFLICT',
    message: `port ${port}/tcp is leased to "a"`,
  })
  assert.equal(reg.get('b'), null)
})

test('fixed_register_of_a_bound_port_needs_force', async () => {
  const reg = open()
  const server = await listen()
  try {
    const port = server.address().port
    assert.throws(() => reg.register('svc', port, { mode: 'fixed' }), { code: 'PORTPOOL_CONFLICT' })
    assert.equal(reg.register('svc', port, { mode: 'fixed', force: true }), port)
  } finally {
    await close(server)
  }
})

test('tcp_and_udp_leases_of_one_port_coexist', () => {
  const reg = open()
  const port = findFree('udp')
  assert.equal(reg.register('t', port, { mode: 'fixed', protocol: 'tcp', force: true }), port)
  assert.equal(reg.register('u', port, { mode: 'fixed', protocol: 'udp' }), port)
  const byName = Object.fromEntries(reg.list().map((l) => [l.name, l.protocol]))
  assert.deepEqual(byName, { t: 'tcp', u: 'udp' })
})

test('list_returns_every_lease_with_every_field', () => {
  const reg = open()
  // Free for UDP too: 'a-owned' is a flexible UDP lease expected on this very port.
  const port = findFree('tcp+udp')
  const before = Math.floor(Date.now() / 1000)
  reg.register('b-plain', port, { mode: 'fixed', force: true })
  reg.register('a-owned', port, { protocol: 'udp', pid: process.pid, ttl: 60 })
  reg.setPool('p', 46100, 46109, { probe: false })
  reg.allocate('c-pooled', { pool: 'p' })
  const leases = reg.list()
  assert.deepEqual(
    leases.map((l) => l.name),
    ['a-owned', 'b-plain', 'c-pooled'],
  )
  const [owned, plain, pooled] = leases
  assert.ok(owned.created >= before)
  // The expiry is rounded up to the next whole second: a lease never ends early.
  const lived = owned.expires - owned.created
  assert.ok(lived === 60 || lived === 61, `expires ${lived} s after created`)
  assert.deepEqual(
    { ...owned, created: 0, expires: 60 },
    {
      name: 'a-owned',
      port,
      protocol: 'udp',
      mode: 'flexible',
      pool: null,
      pid: process.pid,
      created: 0,
      ttl: 60,
      expires: 60,
      next: null,
      origin: null,
      stale: null,
      uid: process.geteuid(),
      namespace: null,
      generation: 0,
    },
  )
  assert.deepEqual(
    { ...plain, created: 0 },
    {
      name: 'b-plain',
      port,
      protocol: 'tcp',
      mode: 'fixed',
      pool: null,
      pid: null,
      created: 0,
      ttl: null,
      expires: null,
      next: null,
      origin: null,
      stale: null,
      uid: process.geteuid(),
      namespace: null,
      generation: 0,
    },
  )
  assert.equal(pooled.mode, 'pool')
  assert.equal(pooled.pool, 'p')
  assert.equal(pooled.port, 46100)
})

test('release_says_whether_there_was_a_lease', () => {
  const reg = open()
  reg.register('web', findFree())
  assert.equal(reg.release('web'), true)
  assert.equal(reg.get('web'), null)
  assert.equal(reg.release('web'), false)
})

test('allocate_takes_ports_round_robin_and_wraps_past_released_ones', () => {
  const reg = open()
  reg.setPool('p', 46200, 46202, { probe: false })
  assert.deepEqual(
    ['a', 'b', 'c'].map((n) => reg.allocate(n, { pool: 'p' })),
    [46200, 46201, 46202],
  )
  assert.throws(() => reg.allocate('d', { pool: 'p' }), {
    code: 'PORTPOOL_EXHAUSTED',
    message: 'pool "p" (46200-46202) has no free tcp port',
  })
  assert.equal(reg.release('b'), true)
  assert.equal(reg.allocate('d', { pool: 'p' }), 46201)
  assert.equal(reg.allocate('a', { pool: 'p' }), 46200, 'a name keeps its port')
})

test('allocate_uses_the_default_pool_when_none_is_named', () => {
  const reg = open()
  const port = reg.allocate('w')
  assert.ok(port >= 9000 && port <= 18999, String(port))
  assert.equal(reg.list()[0].pool, 'default')
})

test('pools_lists_the_default_pool_and_set_pool_creates_and_changes_pools', () => {
  const reg = open()
  assert.deepEqual(reg.pools(), [{ name: 'default', start: 9000, end: 18999, cursor: 9000, probe: true }])
  assert.deepEqual(reg.setPool('web', 47000, 47099), {
    name: 'web',
    start: 47000,
    end: 47099,
    cursor: 47000,
    probe: true,
    uid: process.geteuid(),
  })
  assert.deepEqual(reg.setPool('web', 47100, 47199, { probe: false }), {
    name: 'web',
    start: 47100,
    end: 47199,
    cursor: 47100,
    probe: false,
    uid: process.geteuid(),
  })
  assert.equal(reg.setPool('web', 47100, 47150).probe, false, 'an existing pool keeps its probe setting')
  assert.deepEqual(
    reg.pools().map((p) => p.name),
    ['default', 'web'],
  )
})

test('reset_empties_the_registry', () => {
  const reg = open()
  reg.register('web', findFree())
  reg.setPool('p', 46300, 46310)
  assert.equal(reg.reset(), undefined)
  assert.deepEqual(reg.list(), [])
  assert.deepEqual(
    reg.pools().map((p) => p.name),
    ['default'],
  )
})

test('gc_releases_the_leases_of_exited_owners_and_says_why', async () => {
  const reg = open()
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await once(child, 'spawn')
  const port = reg.register('child', findFree(), { pid: child.pid })
  reg.register('me', findFree(), { pid: process.pid })
  assert.deepEqual(reg.gc(), [], 'nothing is stale while the owner lives')
  child.kill('SIGKILL')
  await once(child, 'exit')
  const reclaimed = reg.gc()
  assert.equal(reclaimed.length, 1)
  assert.equal(reclaimed[0].lease.name, 'child')
  assert.equal(reclaimed[0].lease.port, port)
  assert.equal(reclaimed[0].lease.pid, child.pid)
  assert.equal(reclaimed[0].reason, `owner pid ${child.pid} is gone`)
  assert.deepEqual(
    reg.list().map((l) => l.name),
    ['me'],
  )
})

test('renew_restarts_the_time_to_live', () => {
  const reg = open()
  reg.register('web', findFree(), { ttl: 60 })
  const now = Math.floor(Date.now() / 1000)
  const renewed = reg.renew('web', 3600)
  assert.equal(renewed.name, 'web')
  assert.equal(renewed.ttl, 3600)
  assert.ok(renewed.expires >= now + 3600, `${renewed.expires} >= ${now} + 3600`)
  assert.equal(reg.renew('web').ttl, 3600, 'without a ttl, the one it was given')
  assert.throws(() => reg.renew('nobody'), { code: 'PORTPOOL_NOT_FOUND', message: 'no lease named "nobody"' })
  reg.register('forever', findFree())
  assert.throws(() => reg.renew('forever'), { code: 'PORTPOOL_INVALID_ARGUMENT' })
})

test('check_tells_free_leased_and_busy_ports_apart', async () => {
  const reg = open()
  const free = findFree()
  assert.deepEqual(reg.check(free), { state: 'free', lease: null })
  reg.register('web', free, { mode: 'fixed' })
  const leased = reg.check(free, 'tcp')
  assert.equal(leased.state, 'leased')
  assert.equal(leased.lease.name, 'web')
  assert.equal(reg.check(free, 'udp').state, isFree(free, 'udp') ? 'free' : 'busy')
  const server = await listen()
  try {
    assert.deepEqual(reg.check(server.address().port), { state: 'busy', lease: null })
  } finally {
    await close(server)
  }
})

test('is_free_and_find_free_probe_the_host', async () => {
  const port = findFree()
  assert.ok(port >= 1 && port <= 65535)
  assert.equal(isFree(port), true)
  const udp = findFree('udp')
  assert.equal(isFree(udp, 'udp'), true)
  const server = await listen()
  try {
    assert.equal(isFree(server.address().port), false)
    assert.equal(isFree(server.address().port, 'tcp'), false)
  } finally {
    await close(server)
  }
})

test('path_is_the_given_file_else_portpool_registry', () => {
  const path = tempRegistry()
  assert.equal(new Registry(path).path, path)
  const saved = process.env.PORTPOOL_REGISTRY
  const fromEnv = tempRegistry()
  process.env.PORTPOOL_REGISTRY = fromEnv
  try {
    assert.equal(new Registry().path, fromEnv)
    assert.equal(new Registry(null).path, fromEnv)
  } finally {
    if (saved === undefined) delete process.env.PORTPOOL_REGISTRY
    else process.env.PORTPOOL_REGISTRY = saved
  }
})

test('opening_does_not_touch_the_disk_and_a_write_creates_the_file', () => {
  const fs = require('node:fs')
  const path = tempRegistry()
  const reg = new Registry(path)
  assert.equal(fs.existsSync(path), false)
  assert.deepEqual(reg.list(), [])
  reg.register('web', findFree())
  // JSON Lines: a header, then one line per pool and per lease (or per change).
  const lines = fs.readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  assert.equal(lines[0].version, 2)
  assert.ok(lines.some((l) => (l.lease ?? l.leases?.[0])?.name === 'web'), JSON.stringify(lines))
})

test('handles_on_one_file_see_each_others_changes', () => {
  const path = tempRegistry()
  const a = new Registry(path)
  const b = new Registry(path)
  const port = a.register('web', findFree())
  assert.equal(b.get('web'), port)
  b.release('web')
  assert.equal(a.get('web'), null)
})

test('version_is_a_semver_string', () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+/)
})
