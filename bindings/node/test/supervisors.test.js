'use strict'
// Supervisors in the loop: handover tickets, ending one generation, batches, namespaces.

const assert = require('node:assert/strict')
const { test } = require('node:test')

const { Registry } = require('..')
const { tempRegistry } = require('./helpers')

test('a_second_begin_is_a_conflict_unless_it_retries_its_ticket_or_supersedes', () => {
  const reg = new Registry(tempRegistry())
  reg.allocate('api')
  const first = reg.beginHandoverTicket('api')
  assert.deepEqual([first.ticket, first.created], [1, true])
  assert.throws(() => reg.beginHandover('api'), { code: 'PORTPOOL_CONFLICT', message: /ticket 1/ })
  const again = reg.beginHandoverTicket('api', { ticket: first.ticket })
  assert.deepEqual([again.port, again.created], [first.port, false])
  const newer = reg.beginHandoverTicket('api', { supersede: true })
  assert.ok(newer.ticket > first.ticket)
  assert.throws(() => reg.commitHandover('api', { ticket: first.ticket }), {
    code: 'PORTPOOL_CONFLICT',
    message: /nothing was changed/,
  })
  assert.equal(reg.commitHandover('api', { ticket: newer.ticket }), newer.port)
  assert.throws(() => reg.commitHandover('api', { ticket: -1 }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
})

test('release_with_a_pending_handover_is_a_conflict_unless_release_all', () => {
  const reg = new Registry(tempRegistry())
  reg.allocate('api')
  reg.beginHandover('api')
  assert.throws(() => reg.release('api'), { code: 'PORTPOOL_CONFLICT', message: /commit or abort/ })
  assert.equal(reg.releaseAll('api'), true)
  assert.deepEqual(reg.list(), [])
})

test('a_batch_handover_is_all_or_none', async () => {
  const reg = new Registry(tempRegistry())
  reg.allocateMany(['w-1', 'w-2'])
  const begun = reg.beginHandovers(['w-1', 'w-2'])
  assert.throws(() => reg.beginHandovers(['w-1', 'w-2']), { code: 'PORTPOOL_CONFLICT' })
  assert.throws(
    () => reg.commitHandovers([{ name: 'w-1', ticket: begun[0].ticket }, { name: 'w-2', ticket: 99 }]),
    { code: 'PORTPOOL_CONFLICT', message: /99/ },
  )
  assert.ok(reg.list().every((lease) => lease.next !== null))
  const ports = await reg.commitHandoversAsync(begun.map(({ name, ticket }) => ({ name, ticket })))
  assert.deepEqual(ports, begun.map((h) => h.port))
  assert.throws(() => reg.abortHandovers([{ name: 'w-1' }, { name: 'w-1' }]), {
    code: 'PORTPOOL_INVALID_ARGUMENT',
    message: /twice/,
  })
})

test('names_live_in_namespaces_and_ports_stay_unique_across_them', () => {
  const path = tempRegistry()
  const blue = new Registry(path, { namespace: 'blue' })
  const green = new Registry(path, { namespace: 'green' })
  const a = blue.allocate('worker-1')
  const b = green.allocate('worker-1')
  assert.notEqual(a, b)
  const [lease] = blue.list()
  assert.deepEqual([lease.namespace, lease.port], ['blue', a])
  assert.equal(green.listAllNamespaces().length, 2)
  assert.equal(new Registry(path).get('worker-1'), null)
  assert.throws(() => new Registry(path, { namespace: 'a b' }), { code: 'PORTPOOL_INVALID_ARGUMENT', message: /namespace/ })
})

test('abort_signal_aborts_the_ticketed_handovers_a_begin_made_after_it_landed', async () => {
  const reg = new Registry(tempRegistry())
  const one = reg.allocate('one')
  const [a, b] = reg.allocateMany(['a', 'b'])
  const controller = new AbortController()
  const calls = [
    reg.beginHandoverTicketAsync('one', { signal: controller.signal }),
    reg.beginHandoversAsync(['a', 'b'], { signal: controller.signal }),
  ]
  controller.abort()
  for (const result of await Promise.allSettled(calls)) {
    assert.equal(result.status, 'rejected')
    assert.equal(result.reason.name, 'AbortError')
  }
  assert.deepEqual(
    reg.list().map((l) => [l.name, l.port, l.next]),
    [
      ['a', a, null],
      ['b', b, null],
      ['one', one, null],
    ],
    'every handover the aborted calls began was aborted again',
  )
  assert.ok(reg.list().every((l) => l.generation === 1), 'the handovers did begin')
})
