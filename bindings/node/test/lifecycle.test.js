'use strict'
// The lifecycle calls: zero-downtime handover, who, migrate, importFile — sync and async.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { Registry, findFree } = require('..')
const { tempDir, tempRegistry, listen, close, cliOk } = require('./helpers')

function open() {
  return new Registry(tempRegistry())
}

test('a_committed_handover_moves_the_lease_to_the_next_port', () => {
  const reg = open()
  const old = reg.register('web', findFree())
  const next = reg.beginHandover('web', { pid: process.pid })
  assert.notEqual(next, old)
  assert.throws(() => reg.beginHandover('web', { pid: process.pid }), { code: 'PORTPOOL_CONFLICT', message: /ticket 1/ }, 'begun twice: refused, not shared')
  assert.equal(reg.get('web'), old, 'get returns the current port until the commit')
  const [lease] = reg.list()
  assert.equal(lease.port, old)
  assert.equal(lease.next.port, next)
  assert.equal(lease.next.pid, process.pid)
  assert.throws(() => reg.register('other', next, { mode: 'fixed' }), { code: 'PORTPOOL_CONFLICT' })

  assert.equal(reg.commitHandover('web'), next)
  assert.equal(reg.get('web'), next)
  const [after] = reg.list()
  assert.equal(after.next, null)
  assert.equal(after.pid, process.pid, 'the next generation owns the lease')
  assert.equal(reg.register('other', old, { mode: 'fixed', force: true }), old, 'the old port is free again')
})

test('a_second_supervisor_cannot_begin_commit_or_abort_anothers_handover', () => {
  const { spawn } = require('node:child_process')
  const reg = open()
  const [a, b] = [spawn('sleep', ['60']), spawn('sleep', ['60'])]
  try {
    reg.register('svc', findFree())
    const next = reg.beginHandover('svc', { pid: a.pid })
    assert.throws(() => reg.beginHandover('svc', { pid: b.pid }), { code: 'PORTPOOL_CONFLICT' })
    assert.throws(() => reg.commitHandover('svc', { pid: b.pid }), { code: 'PORTPOOL_CONFLICT' })
    assert.throws(() => reg.abortHandover('svc', { pid: b.pid }), { code: 'PORTPOOL_CONFLICT' })
    assert.equal(reg.commitHandover('svc', { pid: a.pid }), next)
    assert.equal(reg.list()[0].pid, a.pid)
  } finally {
    a.kill()
    b.kill()
  }
})

test('a_stale_lease_is_marked_in_list_and_absent_from_get', async () => {
  const { spawn } = require('node:child_process')
  const reg = open()
  const child = spawn('sleep', ['60'])
  reg.register('w', findFree(), { pid: child.pid })
  await new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGKILL') })
  const [lease] = reg.list()
  assert.match(lease.stale, /is gone/)
  assert.equal(reg.get('w'), null)
  assert.throws(() => reg.renew('w', 60), { code: 'PORTPOOL_NOT_FOUND' })
})

test('an_aborted_handover_releases_the_next_port_and_keeps_the_current_one', () => {
  const reg = open()
  reg.setPool('p', 47400, 47409, { probe: false })
  const old = reg.allocate('w', { pool: 'p' })
  const next = reg.beginHandover('w')
  assert.equal(next, old + 1, 'a pool lease takes its next port from its pool')
  assert.equal(reg.abortHandover('w'), next)
  assert.equal(reg.get('w'), old)
  assert.equal(reg.list()[0].next, null)
  assert.equal(reg.register('x', next, { mode: 'fixed', force: true }), next, 'the aborted port is free again')
})

test('handover_of_an_unknown_name_or_without_one_under_way_is_not_found', () => {
  const reg = open()
  assert.throws(() => reg.beginHandover('nobody'), { code: 'PORTPOOL_NOT_FOUND', message: 'no lease named "nobody"' })
  reg.register('web', findFree())
  assert.throws(() => reg.commitHandover('web'), { code: 'PORTPOOL_NOT_FOUND', message: 'no handover of "web" is under way' })
  assert.throws(() => reg.abortHandover('web'), { code: 'PORTPOOL_NOT_FOUND' })
  assert.throws(() => reg.beginHandover('web', { pid: 1.5 }), { code: 'PORTPOOL_INVALID_ARGUMENT' })
  assert.throws(() => reg.beginHandover('web', { pid: '1' }), TypeError)
})

test('the_cli_sees_a_handover_begun_in_node_and_node_sees_its_commit', () => {
  const file = tempRegistry()
  const reg = new Registry(file)
  const old = reg.register('web', findFree())
  const next = reg.beginHandover('web')
  const [listed] = JSON.parse(cliOk(file, 'list', '--json'))
  assert.deepEqual([listed.port, listed.next.port], [old, next])
  assert.equal(cliOk(file, 'handover', 'web', '--commit'), String(next))
  assert.equal(reg.get('web'), next)
})

test('who_shows_the_leases_and_the_listening_processes_of_a_port', async () => {
  const reg = open()
  const server = await listen()
  try {
    const port = server.address().port
    reg.register('web', port, { mode: 'fixed', force: true })
    const who = reg.who(port)
    assert.equal(who.port, port)
    assert.deepEqual(
      who.leases.map((l) => l.name),
      ['web'],
    )
    assert.equal(who.unavailable, null)
    const mine = who.sockets.filter((s) => s.processes.some((p) => p.pid === process.pid))
    assert.equal(mine.length, 1, JSON.stringify(who.sockets))
    assert.equal(mine[0].protocol, 'tcp')
    assert.equal(mine[0].port, port)
    assert.equal(mine[0].address, `0.0.0.0:${port}`)
    assert.deepEqual(await reg.whoAsync(port), reg.who(port))
  } finally {
    await close(server)
  }
  assert.throws(() => reg.who(0), { code: 'PORTPOOL_INVALID_ARGUMENT' })
})

test('migrate_leases_the_ports_processes_listen_on_and_dry_run_writes_nothing', async () => {
  const reg = open()
  const server = await listen()
  try {
    const port = server.address().port
    const planned = reg.migrate({ dryRun: true })
    const ours = planned.find((l) => l.port === port && l.protocol === 'tcp')
    assert.ok(ours, `port ${port} is in the plan`)
    assert.match(ours.name, /^node(-\d+)?$/)
    assert.equal(ours.mode, 'fixed')
    assert.deepEqual(reg.list(), [])
    const made = await reg.migrateAsync()
    assert.ok(made.some((l) => l.port === port))
    assert.equal(reg.list().find((l) => l.port === port && l.protocol === 'tcp').mode, 'fixed')
    assert.ok(!reg.migrate().some((l) => l.port === port), 'a second run leaves leased ports alone')
  } finally {
    await close(server)
  }
})

test('import_file_makes_fixed_leases_skips_known_ones_and_refuses_a_bad_file_whole', async () => {
  const dir = tempDir()
  const reg = open()
  const held = reg.register('web', findFree(), { mode: 'fixed' })
  const good = path.join(dir, 'ports.json')
  fs.writeFileSync(good, JSON.stringify({ keycloak: 48080, web: held }))
  const report = reg.importFile(good)
  assert.deepEqual(
    report.imported.map((l) => [l.name, l.port, l.mode, l.protocol]),
    [['keycloak', 48080, 'fixed', 'tcp']],
  )
  assert.deepEqual(report.skipped, ['web'])
  assert.deepEqual(await reg.importFileAsync(good), { imported: [], skipped: ['keycloak', 'web'] })

  const bad = path.join(dir, 'bad.json')
  fs.writeFileSync(bad, JSON.stringify({ a: 70000, b: 48100, c: 48100 }))
  assert.throws(() => reg.importFile(bad), (err) => {
    assert.equal(err.code, 'PORTPOOL_INVALID_ARGUMENT')
    assert.ok(err.message.includes('invalid port 70000'), err.message)
    assert.ok(err.message.includes('port 48100 is given to b, c'), err.message)
    return true
  })
  assert.equal(reg.list().length, 2, 'nothing imported')
  await assert.rejects(reg.importFileAsync(path.join(dir, 'missing.json')), { code: 'PORTPOOL_NOT_FOUND' })
  assert.throws(() => reg.importFile(5), TypeError)
})

test('handover_async_twins_resolve_like_their_synchronous_calls', async () => {
  const reg = open()
  const old = await reg.registerAsync('web', findFree())
  const next = await reg.beginHandoverAsync('web')
  assert.equal(await reg.abortHandoverAsync('web'), next)
  assert.equal(reg.get('web'), old)
  const again = await reg.beginHandoverAsync('web', { pid: process.pid })
  assert.equal(await reg.commitHandoverAsync('web'), again)
  assert.equal(await reg.getAsync('web'), again)
  await assert.rejects(reg.commitHandoverAsync('web'), { code: 'PORTPOOL_NOT_FOUND' })
  await assert.rejects(reg.beginHandoverAsync(5), TypeError)
})

test('repair_names_what_it_lost_and_brings_a_damaged_registry_back', async () => {
  const file = tempRegistry()
  const reg = new Registry(file)
  const damaged =
    '{"version":2}\n' +
    '{"lease":{"name":"web","port":22950,"protocol":"tcp","mode":"fixed","created":1}}\n' +
    '{"leases":[{"name":"api","port":22950,"protocol":"tcp","mode":"fixed","created":1}]}\n'
  fs.writeFileSync(file, damaged)
  assert.throws(() => reg.list(), (err) => err.code === 'PORTPOOL_REGISTRY' && /portpool repair/.test(err.message))
  const report = reg.repair()
  assert.equal(report.repaired, true)
  assert.equal(report.kept, 1)
  assert.equal(report.lost.length, 1)
  assert.match(report.lost[0], /lease "api" \(port 22950\)/)
  assert.equal(fs.readFileSync(report.movedAside[0], 'utf8'), damaged)
  assert.equal(reg.get('web'), 22950)
  assert.equal((await reg.repairAsync()).repaired, false)
})

test('a_registry_this_process_cannot_compact_is_one_process_warning', { skip: process.getuid() !== 0 && 'needs root to become another user' }, () => {
  const { spawnSync } = require('node:child_process')
  // Root's registry in a sticky directory others may write, with a long tail and no spare:
  // another user's changes append, and say once that they cannot compact it.
  const dir = fs.mkdtempSync('/tmp/portpool-node-warn-')
  fs.chmodSync(dir, 0o1777)
  const file = path.join(dir, 'registry.json')
  new Registry(file).register('web', findFree(), { mode: 'fixed' })
  fs.appendFileSync(file, '{"cursors":{"default":9000}}\n'.repeat(300))
  fs.chmodSync(file, 0o666)
  fs.chmodSync(`${file}.lock`, 0o666)
  const script = `
    const { Registry } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const seen = []
    process.on('warning', (w) => seen.push(w))
    const reg = new Registry(process.argv[1])
    reg.allocate('a', { pid: 1 })
    reg.allocate('b', { pid: 1 })
    setImmediate(() => console.log(JSON.stringify(seen.map((w) => [w.code, w.message]))))`
  const out = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, file], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  const seen = JSON.parse(out.stdout)
  assert.equal(seen.length, 1, out.stdout)
  assert.equal(seen[0][0], 'PORTPOOL_COMPACTION_WARNING')
  assert.match(seen[0][1], /cannot be compacted/)
  fs.rmSync(dir, { recursive: true })
})
