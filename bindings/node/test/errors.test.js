'use strict'
// Every error code, with core's message; wrong argument types are TypeErrors.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { test } = require('node:test')

const { Registry, isFree, findFree, isPortpoolError } = require('..')
const { tempDir, tempRegistry } = require('./helpers')

function open() {
  return new Registry(tempRegistry())
}

/** Asserts `fn` throws an Error (not a TypeError) with `code` and, when given, `message`. */
function throwsPortpool(fn, code, message) {
  let caught
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught, `expected ${code}`)
  assert.ok(caught instanceof Error, 'an Error')
  assert.ok(!(caught instanceof TypeError), `not a TypeError: ${caught.message}`)
  assert.equal(caught.code, code, caught.message)
  assert.ok(isPortpoolError(caught), 'isPortpoolError')
  if (message instanceof RegExp) assert.match(caught.message, message)
  else if (message !== undefined) assert.equal(caught.message, message)
  return caught
}

test('ports_outside_1_to_65535_are_invalid_arguments_with_cores_message', () => {
  const reg = open()
  for (const port of [70000, 65536, -5, 0]) {
    throwsPortpool(() => reg.register('web', port), 'PORTPOOL_INVALID_ARGUMENT', `invalid port ${port}: ports are 1-65535`)
    throwsPortpool(() => reg.check(port), 'PORTPOOL_INVALID_ARGUMENT', `invalid port ${port}: ports are 1-65535`)
    throwsPortpool(() => isFree(port), 'PORTPOOL_INVALID_ARGUMENT', `invalid port ${port}: ports are 1-65535`)
    throwsPortpool(() => reg.setPool('p', port, 9000), 'PORTPOOL_INVALID_ARGUMENT', `invalid port ${port}: ports are 1-65535`)
  }
  for (const port of [1.5, NaN, Infinity]) {
    throwsPortpool(() => reg.register('web', port), 'PORTPOOL_INVALID_ARGUMENT', /^invalid port /)
  }
  assert.deepEqual(reg.list(), [])
})

test('bad_names_modes_protocols_ttls_and_ranges_are_invalid_arguments', () => {
  const reg = open()
  const port = findFree()
  throwsPortpool(() => reg.register('', port), 'PORTPOOL_INVALID_ARGUMENT', 'invalid name "": a name must not be empty')
  throwsPortpool(() => reg.register('a b', port), 'PORTPOOL_INVALID_ARGUMENT', /^invalid name "a b": contains whitespace/)
  throwsPortpool(() => reg.get('x'.repeat(129)), 'PORTPOOL_INVALID_ARGUMENT', /longer than 128 bytes/)
  throwsPortpool(
    () => reg.register('web', port, { mode: 'pool' }),
    'PORTPOOL_INVALID_ARGUMENT',
    'invalid mode "pool": expected "fixed" or "flexible"',
  )
  throwsPortpool(
    () => reg.register('web', port, { protocol: 'sctp' }),
    'PORTPOOL_INVALID_ARGUMENT',
    'invalid protocol "sctp": expected one of "tcp", "udp", "tcp+udp"',
  )
  throwsPortpool(() => findFree('icmp'), 'PORTPOOL_INVALID_ARGUMENT', 'invalid protocol "icmp": expected one of "tcp", "udp", "tcp+udp"')
  throwsPortpool(
    () => reg.register('web', port, { ttl: 0 }),
    'PORTPOOL_INVALID_ARGUMENT',
    'invalid ttl 0: a time to live is at least 1 second',
  )
  throwsPortpool(() => reg.allocate('web', { ttl: -1 }), 'PORTPOOL_INVALID_ARGUMENT', /^invalid ttl -1/)
  throwsPortpool(() => reg.allocate('web', { pid: 2 ** 40 }), 'PORTPOOL_INVALID_ARGUMENT', /^invalid pid/)
  throwsPortpool(
    () => reg.setPool('p', 9100, 9000),
    'PORTPOOL_INVALID_ARGUMENT',
    'invalid pool range 9100-9000: start is after end',
  )
  throwsPortpool(() => new Registry(''), 'PORTPOOL_INVALID_ARGUMENT', 'invalid registry path "": empty')
  assert.deepEqual(reg.list(), [])
})

test('unknown_pools_and_leases_are_not_found', () => {
  const reg = open()
  throwsPortpool(() => reg.allocate('w', { pool: 'nope' }), 'PORTPOOL_NOT_FOUND', 'no pool named "nope"')
  throwsPortpool(() => reg.renew('nobody', 10), 'PORTPOOL_NOT_FOUND', 'no lease named "nobody"')
})

test('a_name_asking_for_another_port_or_protocol_is_a_conflict', () => {
  const reg = open()
  const port = reg.register('web', findFree(), { mode: 'fixed' })
  throwsPortpool(
    () => reg.register('web', port + 1, { mode: 'fixed' }),
    'PORTPOOL_CONFLICT',
    `"web" already holds port ${port}/tcp, not ${port + 1}; release it first`,
  )
  throwsPortpool(() => reg.allocate('web', { protocol: 'udp' }), 'PORTPOOL_CONFLICT', /not a udp port/)
})

test('a_full_pool_and_the_top_of_the_port_range_are_exhausted', () => {
  const reg = open()
  reg.setPool('one', 46400, 46400, { probe: false })
  reg.allocate('a', { pool: 'one' })
  throwsPortpool(() => reg.allocate('b', { pool: 'one' }), 'PORTPOOL_EXHAUSTED', 'pool "one" (46400-46400) has no free tcp port')
  reg.register('top', 65535, { mode: 'fixed', force: true })
  throwsPortpool(() => reg.register('over', 65535), 'PORTPOOL_EXHAUSTED', 'no free tcp port from 65535 to 65535')
})

test('a_corrupt_or_foreign_registry_file_is_a_registry_error_and_is_left_untouched', () => {
  const dir = tempDir()
  const cases = {
    'truncated.json': '{"version": 1, "leases": [',
    'foreign.json': '{"keycloak": 8080}',
    'newer.json': '{"version": 4}',
  }
  for (const [name, text] of Object.entries(cases)) {
    const file = path.join(dir, name)
    fs.writeFileSync(file, text)
    const reg = new Registry(file)
    const err = throwsPortpool(() => reg.list(), 'PORTPOOL_REGISTRY')
    assert.ok(err.message.startsWith(`registry ${file}: `), err.message)
    throwsPortpool(() => reg.register('web', 9000), 'PORTPOOL_REGISTRY')
    assert.equal(fs.readFileSync(file, 'utf8'), text)
  }
  const directory = path.join(dir, 'dir.json')
  fs.mkdirSync(directory)
  throwsPortpool(
    () => new Registry(directory).list(),
    'PORTPOOL_REGISTRY',
    `registry ${directory}: is not a regular file; run \`portpool repair\` to rewrite it from every line that reads back (the damaged file is kept beside it)`,
  )
})

test('an_operating_system_failure_is_an_io_error', () => {
  const dir = tempDir()
  const file = path.join(dir, 'plain-file')
  fs.writeFileSync(file, '')
  const reg = new Registry(path.join(file, 'registry.json'))
  throwsPortpool(() => reg.list(), 'PORTPOOL_IO', /Not a directory/)
  throwsPortpool(() => reg.register('web', 9000), 'PORTPOOL_IO')
})

/** Asserts `fn` throws a TypeError. */
function throwsType(fn) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof TypeError, `${err.constructor.name}: ${err.message}`)
    return true
  })
}

test('arguments_of_the_wrong_type_are_type_errors', () => {
  const reg = open()
  throwsType(() => new Registry(5))
  throwsType(() => Registry(tempRegistry()))
  throwsType(() => reg.register(5, 8080))
  throwsType(() => reg.register('web', '8080'))
  throwsType(() => reg.register('web'))
  throwsType(() => reg.register('web', 8080, 5))
  throwsType(() => reg.register('web', 8080, 'fixed'))
  throwsType(() => reg.register('web', 8080, { force: 'yes' }))
  throwsType(() => reg.register('web', 8080, { mode: 1 }))
  throwsType(() => reg.register('web', 8080, { ttl: '60' }))
  throwsType(() => reg.allocate('web', { pool: 5 }))
  throwsType(() => reg.get())
  throwsType(() => reg.get(null))
  throwsType(() => reg.release({}))
  throwsType(() => reg.setPool('p', 9000, '9100'))
  throwsType(() => reg.setPool('p', 9000, 9100, { probe: 1 }))
  throwsType(() => reg.renew('web', '60'))
  throwsType(() => reg.check('80'))
  throwsType(() => isFree('80'))
  throwsType(() => isFree(80, 6))
  throwsType(() => findFree(true))
  assert.deepEqual(reg.list(), [])
})

test('is_portpool_error_is_false_for_type_errors_and_foreign_values', async () => {
  const reg = open()
  let typeError
  try {
    reg.register(5, 8080)
  } catch (err) {
    typeError = err
  }
  assert.equal(isPortpoolError(typeError), false)
  await assert.rejects(reg.allocateAsync('a', { pool: 'nope' }), (err) => isPortpoolError(err) && err.code === 'PORTPOOL_NOT_FOUND')
  for (const value of [undefined, null, 'PORTPOOL_IO', { code: 'PORTPOOL_IO' }, new Error('plain')]) {
    assert.equal(isPortpoolError(value), false, String(value))
  }
})

test('a_lock_held_past_the_lock_timeout_is_PORTPOOL_BUSY_and_reads_go_on', async () => {
  const { spawn } = require('node:child_process')
  const file = tempRegistry()
  const reg = new Registry(file, { lockTimeout: 0.1 })
  const port = reg.register('a', findFree())
  // flock(1) says when it holds the lock; its group is killed at the end.
  const holder = spawn('flock', ['-x', `${file}.lock`, 'sh', '-c', 'echo locked; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  })
  await new Promise((resolve, reject) => {
    holder.stdout.once('data', resolve)
    holder.once('error', reject)
  })
  try {
    throwsPortpool(() => reg.release('a'), 'PORTPOOL_BUSY', new RegExp(`busy: pid ${holder.pid} held its lock`))
    await assert.rejects(reg.releaseAsync('a'), { code: 'PORTPOOL_BUSY' })
    assert.equal(reg.get('a'), port, 'reads take no lock')
  } finally {
    process.kill(-holder.pid, 'SIGKILL')
  }
  await new Promise((resolve) => holder.once('exit', resolve))
  assert.equal(new Registry(file, { lockTimeout: 10 }).release('a'), true)
  for (const bad of [-1, Number.NaN, 1e12]) {
    throwsPortpool(() => new Registry(file, { lockTimeout: bad }), 'PORTPOOL_INVALID_ARGUMENT', /lock timeout/)
  }
})

test('releasing a lease another user made is PORTPOOL_CONFLICT naming them, unless opened with force', () => {
  // Run as a user other than root (root may anyway): a registry of its own holding a lease
  // uid 4242 made, released without and with force.
  const child = `
    const fs = require('node:fs'), os = require('node:os'), path = require('node:path')
    const { Registry } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const dir = fs.mkdtempSync('/tmp/portpool-force-')
    const file = path.join(dir, 'r.json')
    fs.writeFileSync(file, '{"version":2}\\n{"lease":{"name":"theirs","port":1,"protocol":"tcp",' +
      '"mode":"fixed","pool":null,"created":1,"uid":4242}}\\n')
    let code
    try { new Registry(file).release('theirs') } catch (err) {
      code = err.code
      if (!/uid 4242/.test(err.message)) throw err
    }
    if (code !== 'PORTPOOL_CONFLICT') throw new Error('released without force: ' + code)
    const forced = new Registry(file, { force: true })
    if (!forced.force || forced.release('theirs') !== true) throw new Error('force did not release')
    fs.rmSync(dir, { recursive: true })
  `
  const asOther = process.geteuid() === 0 ? { uid: 65534, gid: 65534 } : {}
  const done = spawnSync(process.execPath, ['-e', child], { cwd: '/', encoding: 'utf8', ...asOther })
  assert.equal(done.status, 0, done.stderr)
})
