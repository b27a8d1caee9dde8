'use strict'
// Many processes and the portpool CLI on one registry file.

const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const path = require('node:path')
const { test } = require('node:test')
const { promisify } = require('node:util')

const { Registry, findFree } = require('..')
const { tempRegistry, cli, cliOk } = require('./helpers')

const run = promisify(execFile)

test('worker_processes_allocating_from_one_pool_get_distinct_ports', async () => {
  const file = tempRegistry()
  const reg = new Registry(file)
  reg.setPool('workers', 46800, 46899, { probe: false })
  const workers = 6
  const each = 12
  const script = path.join(__dirname, 'fixtures', 'allocator.js')
  const outputs = await Promise.all(
    Array.from({ length: workers }, (_, w) => run(process.execPath, [script, file, 'workers', `w${w}`, String(each)])),
  )
  const byName = Object.assign({}, ...outputs.map(({ stdout }) => JSON.parse(stdout)))
  const ports = Object.values(byName)
  assert.equal(ports.length, workers * each)
  assert.equal(new Set(ports).size, ports.length, 'no port handed out twice')
  for (const port of ports) assert.ok(port >= 46800 && port <= 46899, String(port))
  const leases = reg.list()
  assert.equal(leases.length, workers * each)
  for (const lease of leases) {
    assert.equal(lease.port, byName[lease.name])
    assert.equal(lease.pool, 'workers')
  }
})

test('the_cli_sees_what_node_leases', () => {
  const file = tempRegistry()
  const reg = new Registry(file)
  const port = reg.register('from-node', findFree(), { mode: 'fixed' })
  reg.setPool('web', 46900, 46909, { probe: false })
  const pooled = reg.allocate('pooled', { pool: 'web' })

  assert.equal(cliOk(file, 'get', 'from-node'), String(port))
  const listed = JSON.parse(cliOk(file, 'list', '--json'))
  assert.deepEqual(
    listed.map((l) => [l.name, l.port, l.protocol, l.mode]),
    reg.list().map((l) => [l.name, l.port, l.protocol, l.mode]),
  )
  const pools = JSON.parse(cliOk(file, 'pool', 'list', '--json'))
  assert.deepEqual(
    pools.find((p) => p.name === 'web'),
    reg.pools().find((p) => p.name === 'web'),
  )
  const conflict = cli(file, 'register', 'other', String(port), 'fixed')
  assert.equal(conflict.status, 3, conflict.stderr)
  assert.equal(cliOk(file, 'allocate', 'pooled', '--pool', 'web'), String(pooled))
  reg.release('from-node')
  assert.equal(cli(file, 'get', 'from-node').status, 1)
})

test('node_sees_what_the_cli_leases', async () => {
  const file = tempRegistry()
  const reg = new Registry(file)
  const wanted = findFree()
  const port = Number(cliOk(file, 'register', 'from-cli', String(wanted), 'fixed'))
  assert.equal(port, wanted)
  assert.equal(reg.get('from-cli'), port)
  assert.equal(await reg.getAsync('from-cli'), port)
  assert.throws(() => reg.register('mine', port, { mode: 'fixed' }), {
    code: 'PORTPOOL_CONFLICT',
    message: `port ${port}/tcp is leased to "from-cli"`,
  })
  cliOk(file, 'pool', 'set', 'cli-pool', '47300', '47301')
  assert.deepEqual(
    reg.pools().find((p) => p.name === 'cli-pool'),
    { name: 'cli-pool', start: 47300, end: 47301, cursor: 47300, probe: true, uid: process.geteuid() },
  )
  const udp = Number(cliOk(file, 'allocate', 'udp-worker', '--udp'))
  const lease = reg.list().find((l) => l.name === 'udp-worker')
  assert.deepEqual([lease.port, lease.protocol, lease.mode, lease.pool], [udp, 'udp', 'pool', 'default'])
  cliOk(file, 'release', 'from-cli')
  assert.equal(reg.get('from-cli'), null)
})

test('worker_threads_load_the_addon_and_allocate_distinct_ports', async () => {
  const { Worker } = require('node:worker_threads')
  const file = tempRegistry()
  new Registry(file).setPool('threads', 47500, 47599, { probe: false })
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Registry } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const reg = new Registry(workerData.file)
    ;(async () => {
      const ports = []
      for (let i = 0; i < 8; i++) {
        const name = workerData.prefix + '-' + i
        ports.push(i % 2 ? await reg.allocateAsync(name, { pool: 'threads' }) : reg.allocate(name, { pool: 'threads' }))
      }
      parentPort.postMessage(ports)
    })().catch((err) => parentPort.postMessage({ code: err.code, message: err.message }))
  `
  const results = await Promise.all(
    Array.from({ length: 4 }, (_, t) => {
      const worker = new Worker(source, { eval: true, workerData: { file, prefix: `t${t}` } })
      return new Promise((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      }).finally(() => worker.terminate())
    }),
  )
  const ports = results.flat()
  assert.equal(ports.length, 32, JSON.stringify(results))
  assert.equal(new Set(ports).size, 32)
  assert.equal(new Registry(file).list().length, 32)
})
