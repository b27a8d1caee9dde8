'use strict'
// Lease and bind in one step (issue 14): `listen` hands over a socket bound to the leased
// port, which Node's servers take as `{ fd }`; the lease outlives the socket and is owned by
// this process; an aborted call leaves neither a lease nor an open socket.

const assert = require('node:assert/strict')
const dgram = require('node:dgram')
const { once } = require('node:events')
const fs = require('node:fs')
const http = require('node:http')
const { test } = require('node:test')

const { Registry, ScopedLease, isFree } = require('..')
const { tempRegistry, close, freeRun } = require('./helpers')

/** An HTTP server on the socket `fd`, answering every request with `body`. */
async function serve(fd, body) {
  const server = http.createServer((req, res) => res.end(body))
  server.listen({ fd })
  await once(server, 'listening')
  return server
}

/** The body of GET http://127.0.0.1:`port`/. */
async function get(port) {
  const res = await fetch(`http://127.0.0.1:${port}/`)
  return res.text()
}

/** A probing pool of `n` ports all free now, from a range no other test file uses; returns its ports. */
function freePool(reg, name, n) {
  const ports = freeRun(n, 27900, 28400)
  reg.setPool(name, ports[0], ports[n - 1], { probe: true })
  return ports
}

function isAbortError(err) {
  assert.ok(err instanceof DOMException, String(err))
  assert.equal(err.name, 'AbortError')
  return true
}

test('listen_hands_over_a_socket_that_an_http_server_serves_on_the_leased_port', async () => {
  const reg = new Registry(tempRegistry())
  const bound = reg.listen('web')
  assert.deepEqual(Object.keys(bound).sort(), ['created', 'fd', 'port'])
  assert.equal(bound.created, true)
  assert.equal(reg.get('web'), bound.port)
  const server = await serve(bound.fd, 'hello from a leased port')
  try {
    assert.equal(server.address().port, bound.port)
    assert.equal(await get(bound.port), 'hello from a leased port')
  } finally {
    await close(server)
  }
  assert.equal(isFree(bound.port), true, 'closing the server closed the socket')
  assert.equal(reg.get('web'), bound.port, 'and left the lease')
})

test('the_lease_is_owned_by_this_process_and_outlives_the_socket', async () => {
  const reg = new Registry(tempRegistry())
  const bound = await reg.listenAsync('web', { host: '127.0.0.1' })
  await close(await serve(bound.fd, 'x'))
  const [lease] = reg.list()
  assert.deepEqual([lease.name, lease.port, lease.pid, lease.mode], ['web', bound.port, process.pid, 'pool'])
  assert.equal(reg.release('web'), true, 'released explicitly, not by the close')
})

test('a_held_name_gets_a_socket_on_its_own_port_back', async () => {
  const reg = new Registry(tempRegistry())
  const first = reg.listen('web', { host: '127.0.0.1' })
  // While the first socket is open, the port is bound: the name cannot get a second one.
  assert.throws(() => reg.listen('web', { host: '127.0.0.1' }), { code: 'PORTPOOL_CONFLICT' })
  fs.closeSync(first.fd)
  const again = await reg.listenAsync('web', { host: '127.0.0.1' })
  assert.deepEqual([again.port, again.created], [first.port, false])
  const server = await serve(again.fd, 'again')
  try {
    assert.equal(await get(again.port), 'again')
  } finally {
    await close(server)
  }
  assert.equal(reg.list().length, 1)
})

test('listen_chooses_like_register_with_preferred_ports_a_range_and_exclude', async () => {
  const reg = new Registry(tempRegistry())
  const [a, b, c] = freePool(reg, 'spare', 3)
  const first = reg.listen('one', { port: [a, b], mode: 'fixed', exclude: [a], host: '127.0.0.1' })
  assert.equal(first.port, b)
  // b is leased and bound, a excluded: the range's next free port.
  const second = reg.listen('two', { port: b, mode: 'fixed', range: [a, c], exclude: [a], host: '127.0.0.1' })
  assert.equal(second.port, c)
  assert.throws(() => reg.listen('three', { pool: 'spare', exclude: [a], host: '127.0.0.1' }), {
    code: 'PORTPOOL_EXHAUSTED',
  })
  for (const { fd } of [first, second]) fs.closeSync(fd)
  assert.deepEqual(reg.list().map((l) => [l.name, l.port, l.mode]), [
    ['one', b, 'fixed'],
    ['two', c, 'fixed'],
  ])
})

test('a_udp_listen_hands_over_a_bound_socket_that_dgram_takes', async () => {
  const reg = new Registry(tempRegistry())
  const bound = reg.listen('dns', { protocol: 'udp' })
  assert.equal(reg.list()[0].protocol, 'udp')
  // The default address is `::` in dual-stack mode: an IPv6 socket, reached over IPv4 too.
  const server = dgram.createSocket('udp6')
  server.on('message', (msg, from) => server.send(`echo ${msg}`, from.port, from.address))
  await new Promise((resolve) => server.bind({ fd: bound.fd }, resolve))
  const client = dgram.createSocket('udp4')
  try {
    client.send('ping', bound.port, '127.0.0.1')
    const [reply] = await once(client, 'message')
    assert.equal(reply.toString(), 'echo ping')
  } finally {
    client.close()
    server.close()
  }
})

test('an_async_listen_aborted_by_a_signal_leaves_no_lease_and_no_open_socket', async () => {
  const reg = new Registry(tempRegistry())
  const [port] = freePool(reg, 'one', 1)
  const controller = new AbortController()
  // The attempts run on libuv's pool and land; the abort comes before their results do.
  const calls = [
    reg.listenAsync('web', { pool: 'one', signal: controller.signal }),
    reg.listenScoped('scoped', { port, signal: controller.signal }),
  ]
  controller.abort()
  for (const result of await Promise.allSettled(calls)) {
    assert.equal(result.status, 'rejected')
    isAbortError(result.reason)
  }
  assert.deepEqual(reg.list(), [])
  assert.equal(isFree(port), true, 'the socket that landed was closed')
  await assert.rejects(reg.listenAsync('web', { signal: AbortSignal.abort() }), isAbortError)
  assert.deepEqual(reg.list(), [])
})

test('an_aborted_listen_of_a_held_name_closes_its_socket_and_keeps_the_lease', async () => {
  const reg = new Registry(tempRegistry())
  const [port] = freePool(reg, 'one', 1)
  fs.closeSync(reg.listen('web', { pool: 'one' }).fd)
  const controller = new AbortController()
  const call = reg.listenAsync('web', { pool: 'one', signal: controller.signal })
  controller.abort()
  await assert.rejects(call, isAbortError)
  assert.equal(reg.get('web'), port)
  assert.equal(isFree(port), true)
})

test('listen_scoped_makes_a_new_lease_with_its_socket_and_releases_it_at_the_end', async () => {
  const reg = new Registry(tempRegistry())
  const scope = await reg.listenScoped('job', { host: '127.0.0.1' })
  assert.ok(scope instanceof ScopedLease)
  assert.equal(typeof scope.fd, 'number')
  assert.equal(reg.get('job'), scope.port)
  assert.equal(reg.list()[0].pid, process.pid)
  assert.throws(() => reg.listenScopedSync('job'), { code: 'PORTPOOL_CONFLICT' })
  const server = await serve(scope.fd, 'scoped')
  try {
    assert.equal(await get(scope.port), 'scoped')
  } finally {
    await close(server)
  }
  await scope[Symbol.asyncDispose]()
  assert.equal(reg.get('job'), null)
  assert.equal((await reg.lease('plain')).fd, null, 'a scope without a socket')
})

test('bad_listen_options_are_invalid_arguments_or_type_errors_and_change_nothing', async () => {
  const reg = new Registry(tempRegistry())
  const invalid = [
    () => reg.listen('web', { backlog: -1 }),
    () => reg.listen('web', { backlog: 2 ** 31 }),
    () => reg.listen('web', { backlog: 1.5 }),
    () => reg.listen('web', { host: 'localhost' }),
    () => reg.listen('web', { host: '192.0.2.1' }),
    () => reg.listen('web', { pool: 'default', port: 8080 }),
    () => reg.listen('web', { mode: 'fixed' }),
    () => reg.listen('web', { range: [9000, 9001] }),
    () => reg.listen('web', { port: 0 }),
    () => reg.listen('web', { protocol: 'sctp' }),
    () => reg.listen('web', { pid: -1 }),
    () => reg.listen('', {}),
    () => reg.listenScopedSync('web', { port: [9000, 70000] }),
  ]
  for (const call of invalid) {
    assert.throws(call, (err) => {
      assert.equal(err.code, 'PORTPOOL_INVALID_ARGUMENT', `${call}: ${err}`)
      return true
    })
  }
  const wrongType = [
    () => reg.listen('web', { force: true }),
    () => reg.listen('web', { port: '8080' }),
    () => reg.listen('web', { backlog: '128' }),
    () => reg.listen(8080),
  ]
  for (const call of wrongType) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof TypeError, `${call}: ${err}`)
      return true
    })
  }
  await assert.rejects(reg.listenAsync('web', { host: 'nope' }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  await assert.rejects(reg.listenScoped('web', { tll: 1 }), TypeError)
  assert.deepEqual(reg.list(), [])
})
