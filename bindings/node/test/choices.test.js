'use strict'
// The port choices of issue 14, as Node users write them: preferred port lists, a range to
// fall back to, exclude lists, the probe address, and findFree's count. Every rule is core's;
// these tests pin that Node reaches each one and that bad input changes nothing.

const assert = require('node:assert/strict')
const net = require('node:net')
const { test } = require('node:test')

const { Registry, findFree, isFree } = require('..')
const helpers = require('./helpers')
const { tempRegistry, listen, close } = helpers

/** A TCP server on `host`:`port`; resolves to the server. */
function serveOn(host, port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => resolve(server))
  })
}

/** `n` consecutive ports, all free now, from a range that no other test file uses. */
function freeRun(n) {
  return helpers.freeRun(n, 27300, 27900)
}

test('register_takes_the_first_free_preferred_port_in_order', async () => {
  const reg = new Registry(tempRegistry())
  const [a, b, c] = freeRun(3)
  const server = await serveOn('0.0.0.0', a)
  try {
    reg.register('other', b, { mode: 'fixed' })
    // a is bound outside the registry, b is leased to another name: c, in both modes.
    assert.equal(reg.register('web', [a, b, c], { mode: 'fixed' }), c)
    reg.release('web')
    assert.equal(await reg.registerAsync('web', [a, b, c]), c)
  } finally {
    await close(server)
  }
  reg.release('web')
  assert.equal(reg.register('web', [c, a]), c, 'order of preference, not of number')
})

test('register_falls_back_to_the_range_after_the_preferred_ports', async () => {
  const reg = new Registry(tempRegistry())
  const [a, lo, mid, hi] = freeRun(4)
  const server = await serveOn('0.0.0.0', a)
  try {
    reg.register('first', lo, { mode: 'fixed' })
    assert.equal(reg.register('web', a, { mode: 'fixed', range: [lo, hi] }), mid)
    assert.equal(reg.register('api', [a], { range: [lo, hi] }), hi)
    assert.throws(() => reg.register('full', a, { mode: 'fixed', range: [lo, hi] }), {
      code: 'PORTPOOL_EXHAUSTED',
      message: new RegExp(`${a} or ${lo}-${hi}`),
    })
    // Fixed, no range: only the preferred ports.
    assert.throws(() => reg.register('fixed', [a, lo], { mode: 'fixed' }), { code: 'PORTPOOL_CONFLICT' })
  } finally {
    await close(server)
  }
  assert.equal(reg.get('full'), null)
  assert.equal(reg.get('fixed'), null)
})

test('flexible_register_without_a_range_climbs_from_the_first_preferred_port', async () => {
  const reg = new Registry(tempRegistry())
  const [a, b] = freeRun(2)
  const server = await serveOn('0.0.0.0', a)
  try {
    assert.equal(reg.register('web', [a]), b)
  } finally {
    await close(server)
  }
})

test('excluded_ports_are_never_handed_out_by_register_allocate_lease_or_find_free', async () => {
  const reg = new Registry(tempRegistry())
  const [a, b, c] = freeRun(3)
  reg.setPool('p', a, c, { probe: false })
  assert.equal(reg.allocate('pooled', { pool: 'p', exclude: [a, b] }), c)
  reg.release('pooled')
  assert.deepEqual(reg.allocateMany(['x', 'y'], { pool: 'p', exclude: [b] }), [a, c])
  reg.reset()
  assert.equal(reg.register('web', [a, b], { exclude: [a] }), b)
  // a and c excluded, b leased to 'web': nothing left of the range.
  assert.throws(() => reg.register('api', a, { range: [a, c], exclude: [a, c], mode: 'fixed' }), {
    code: 'PORTPOOL_EXHAUSTED',
  })
  reg.reset()
  assert.throws(() => reg.register('only', a, { mode: 'fixed', exclude: [a] }), {
    code: 'PORTPOOL_CONFLICT',
    message: /excluded/,
  })
  const scoped = await reg.lease('scoped', { port: [a, b], exclude: [a] })
  assert.equal(scoped.port, b)
  await scoped.releaseAsync()
  assert.equal(findFree({ ports: [a, b], exclude: [a] }), b)
  const found = findFree({ range: [a, c], exclude: [b], count: 2 })
  assert.deepEqual(found, [a, c])
  assert.throws(() => findFree({ range: [a, c], exclude: [a, b, c] }), { code: 'PORTPOOL_EXHAUSTED' })
})

test('host_probes_that_one_address_instead_of_the_wildcards', async () => {
  const reg = new Registry(tempRegistry())
  const [port] = freeRun(2)
  // Linux routes all of 127/8 to the loopback interface: 127.0.0.2 is an address of this host.
  const server = await serveOn('127.0.0.1', port)
  try {
    assert.equal(isFree(port), false)
    assert.equal(isFree(port, { host: '127.0.0.1' }), false)
    assert.equal(isFree(port, { host: '127.0.0.2' }), true)
    assert.equal(findFree({ ports: [port], range: [port, port + 1] }), port + 1)
    assert.equal(findFree({ ports: [port], host: '127.0.0.2' }), port)
    assert.throws(() => reg.register('web', port, { mode: 'fixed' }), { code: 'PORTPOOL_CONFLICT' })
    assert.equal(reg.register('web', port, { mode: 'fixed', host: '127.0.0.2' }), port)
    reg.release('web')
    reg.setPool('p', port, port, { probe: true })
    assert.throws(() => reg.allocate('pooled', { pool: 'p' }), { code: 'PORTPOOL_EXHAUSTED' })
    assert.equal(reg.allocate('pooled', { pool: 'p', host: '127.0.0.2' }), port)
  } finally {
    await close(server)
  }
})

test('find_free_with_count_returns_that_many_distinct_ports_and_without_it_one_number', () => {
  const run = freeRun(6)
  const range = [run[0], run[5]]
  const three = findFree({ range, count: 3 })
  assert.deepEqual(three, run.slice(0, 3), 'the range in order')
  assert.deepEqual(findFree({ count: 1, range }), [run[0]], 'count given: an array, even of one')
  const picked = findFree({ count: 20 })
  assert.equal(new Set(picked).size, 20, `distinct: ${picked}`)
  assert.equal(typeof findFree(), 'number')
  assert.equal(typeof findFree('udp'), 'number')
  assert.equal(typeof findFree({ protocol: 'udp', ports: [run[0]] }), 'number')
  assert.throws(() => findFree({ range, count: 7 }), { code: 'PORTPOOL_EXHAUSTED', message: /found 6 free tcp ports of the 7/ })
})

test('bad_port_choices_are_invalid_arguments_or_type_errors_and_change_nothing', async () => {
  const reg = new Registry(tempRegistry())
  const [a, b] = freeRun(2)
  const invalid = [
    () => reg.register('web', a, { range: [b, a] }),
    () => reg.register('web', a, { range: [0, b] }),
    () => reg.register('web', a, { exclude: [70000] }),
    () => reg.register('web', [a, 0]),
    () => reg.register('web', []),
    () => reg.register('web', a, { host: 'localhost' }),
    () => reg.register('web', a, { host: '192.0.2.1' }),
    () => reg.allocate('web', { exclude: [1.5] }),
    () => reg.allocate('web', { host: '::ffff' }),
    () => reg.leaseSync('web', { pool: 'default', range: [a, b] }),
    () => findFree({ count: 0 }),
    () => findFree({ count: -2 }),
    () => findFree({ count: 1.5 }),
    () => findFree({ range: [b, a] }),
    () => findFree({ ports: [65536] }),
    () => isFree(a, { host: 'not an address' }),
  ]
  for (const call of invalid) {
    assert.throws(call, (err) => {
      assert.equal(err.code, 'PORTPOOL_INVALID_ARGUMENT', `${call}: ${err}`)
      return true
    })
  }
  const wrongType = [
    () => reg.register('web', 'a'),
    () => reg.register('web', [a, 'b']),
    () => reg.register('web', a, { range: [a] }),
    () => reg.register('web', a, { range: [a, b, b] }),
    () => reg.register('web', a, { range: `${a}-${b}` }),
    () => reg.register('web', a, { exclude: a }),
    () => reg.allocate('web', { host: 127 }),
    () => findFree(5),
    () => findFree({ count: '2' }),
    () => findFree({ port: a }),
    () => isFree(a, { protocol: 'tcp', hots: '127.0.0.1' }),
  ]
  for (const call of wrongType) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof TypeError, `${call}: ${err}`)
      return true
    })
  }
  await assert.rejects(reg.registerAsync('web', a, { range: [b, a] }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  await assert.rejects(reg.registerAsync('web', [a, 'b']), TypeError)
  assert.deepEqual(reg.list(), [])
  assert.deepEqual(reg.pools().map((p) => p.name), ['default'])
})

test('a_scoped_lease_takes_bindable_as_register_and_allocate_do', async () => {
  const reg = new Registry(tempRegistry())
  // An unknown option is refused (boundary.test.js): being accepted is what this pins.
  const [lo, hi] = freeRun(2)
  reg.setPool('w', lo, hi, { probe: false })
  const scope = await reg.lease('w1', { pool: 'w', bindable: true })
  try {
    assert.ok(scope.port >= lo && scope.port <= hi)
  } finally {
    await scope.releaseAsync()
  }
})

test('allocate_and_allocate_many_take_force_per_call', () => {
  const reg = new Registry(tempRegistry())
  const [lo, hi] = freeRun(2)
  reg.setPool('w', lo, hi, { probe: false })
  const port = reg.allocate('a', { pool: 'w', force: true })
  assert.equal(reg.allocate('a', { pool: 'w', force: true }), port)
  assert.equal(reg.allocateMany(['a', 'b'], { pool: 'w', force: true })[0], port)
})
