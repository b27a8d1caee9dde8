'use strict'
// protocol 'tcp+udp': one port number leased, probed and read back for TCP and UDP at once.

const assert = require('node:assert/strict')
const dgram = require('node:dgram')
const fs = require('node:fs')
const { once } = require('node:events')
const { test } = require('node:test')

const { Registry, isFree, findFree } = require('..')
const { cli, tempRegistry } = require('./helpers')

async function udpBound() {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '0.0.0.0')
  await once(socket, 'listening')
  return socket
}

test('a_tcp_udp_lease_conflicts_with_a_tcp_and_a_udp_lease_of_its_port', () => {
  const reg = new Registry(tempRegistry())
  const port = findFree('tcp+udp')
  reg.register('dns', port, { mode: 'fixed', protocol: 'tcp+udp' })
  assert.throws(() => reg.register('web', port, { mode: 'fixed' }), { code: 'PORTPOOL_CONFLICT', message: /dns/ })
  assert.throws(() => reg.register('syslog', port, { mode: 'fixed', protocol: 'udp' }), {
    code: 'PORTPOOL_CONFLICT',
    message: /dns/,
  })
})

test('a_tcp_udp_registration_of_a_port_leased_for_udp_is_a_conflict', () => {
  const reg = new Registry(tempRegistry())
  const port = findFree({ protocol: 'tcp+udp' })
  reg.register('syslog', port, { mode: 'fixed', protocol: 'udp' })
  assert.throws(() => reg.register('dns', port, { mode: 'fixed', protocol: 'tcp+udp' }), {
    code: 'PORTPOOL_CONFLICT',
    message: /syslog/,
  })
})

test('the_probe_refuses_for_tcp_udp_a_port_bound_for_udp_only', async () => {
  const socket = await udpBound()
  try {
    const busy = socket.address().port
    assert.equal(isFree(busy, 'tcp+udp'), false)
    const reg = new Registry(tempRegistry())
    assert.equal(reg.check(busy, 'tcp+udp').state, 'busy')
    assert.notEqual(reg.register('dns', busy, { protocol: 'tcp+udp' }), busy)
  } finally {
    socket.close()
  }
})

test('a_tcp_udp_lease_reads_back_through_the_file', () => {
  const path = tempRegistry()
  const port = new Registry(path).register('dns', findFree('tcp+udp'), { mode: 'fixed', protocol: 'tcp+udp' })
  assert.match(fs.readFileSync(path, 'utf8'), /"protocol":"tcp\+udp"/)
  const [lease] = new Registry(path).list()
  assert.deepEqual([lease.name, lease.port, lease.protocol], ['dns', port, 'tcp+udp'])
})

test('listen_refuses_tcp_udp_as_one_socket_is_one_protocol', () => {
  const reg = new Registry(tempRegistry())
  assert.throws(() => reg.listen('dns', { protocol: 'tcp+udp' }), { code: 'PORTPOOL_INVALID_ARGUMENT', message: /one socket/ })
  assert.deepEqual(reg.list(), [])
})

test('a_tcp_udp_lease_crosses_the_file_between_node_and_the_command_line', () => {
  const path = tempRegistry()
  const reg = new Registry(path)
  const mine = reg.register('from-node', findFree('tcp+udp'), { mode: 'fixed', protocol: 'tcp+udp' })
  const listed = JSON.parse(cli(path, 'list', '--json').stdout)
  assert.deepEqual(listed.map((l) => [l.name, l.protocol]), [['from-node', 'tcp+udp']])
  // Not `mine`: it is leased, not bound, so the kernel may pick it again.
  const other = findFree({ protocol: 'tcp+udp', exclude: [mine] })
  assert.equal(cli(path, 'register', 'from-cli', String(other), 'fixed', '--protocol', 'tcp+udp').status, 0)
  const byName = Object.fromEntries(reg.list().map((l) => [l.name, [l.port, l.protocol]]))
  assert.deepEqual(byName, { 'from-node': [mine, 'tcp+udp'], 'from-cli': [other, 'tcp+udp'] })
})
