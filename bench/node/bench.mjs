// The Node part of `make bench` (run by bench/run.py): portpool's findFree against get-port,
// Registry.allocate + release (of a lease this process owns, and of one without an owner), and
// Registry.listen + close + release beside the pid-owned allocate + release and one
// synchronous system call from Node (fs.fstatSync), and the drop-in portpool/get-port
// (getPort + clearLockedPorts, so leases do not pile up; on the default registry,
// $BENCH_DROPIN_REGISTRY) against get-port, interleaved round by round. Prints, as JSON, each
// contender's seconds per call in every round. PORTPOOL_NODE is the index.js of the portpool package to load,
// BENCH_REGISTRY a scratch registry, ROUNDS the number of rounds.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import getPort from 'get-port'

const require = createRequire(import.meta.url)
const portpool = require(process.env.PORTPOOL_NODE)
process.env.PORTPOOL_REGISTRY = process.env.BENCH_DROPIN_REGISTRY
const dropin = require(new URL('get-port.js', `file://${process.env.PORTPOOL_NODE}`).pathname)
const reg = new portpool.Registry(process.env.BENCH_REGISTRY)
const rounds = Number(process.env.ROUNDS ?? 5)

const now = () => Number(process.hrtime.bigint()) / 1e9

function findFree(n) {
  const t = now()
  for (let i = 0; i < n; i++) portpool.findFree()
  return (now() - t) / n
}

async function getPortLoop(n) {
  const t = now()
  for (let i = 0; i < n; i++) await getPort()
  return (now() - t) / n
}

async function dropinLoop(n) {
  const t = now()
  for (let i = 0; i < n; i++) {
    await dropin()
    dropin.clearLockedPorts()
  }
  return (now() - t) / n
}

// allocate + release, timed together; `options` with a pid: a change that waits for no flush.
function allocateRelease(n, options) {
  const t = now()
  for (let i = 0; i < n; i++) {
    reg.allocate('node-bench', options)
    reg.release('node-bench')
  }
  return (now() - t) / n
}
const owned = { pid: process.pid }

// listen + close + release: the lease (owned by this process, as listen's always is) and the
// bound, listening socket in one step, from the same default pool as allocate; the socket
// closed as a server's close would.
function listenRelease(n) {
  const t = now()
  for (let i = 0; i < n; i++) {
    fs.closeSync(reg.listen('node-bench').fd)
    reg.release('node-bench')
  }
  return (now() - t) / n
}

// What one system call costs from JavaScript: the unit of listen's target.
const devNull = fs.openSync('/dev/null', 'r')
function syscall(n) {
  const t = now()
  for (let i = 0; i < n; i++) fs.fstatSync(devNull)
  return (now() - t) / n
}

const out = {
  findFree: [],
  getPort: [],
  dropinGetPort: [],
  allocateReleaseOwned: [],
  allocateRelease: [],
  listenRelease: [],
  syscall: [],
}
// One untimed pass of each, so that nothing is measured cold.
findFree(50)
await getPortLoop(50)
await dropinLoop(50)
allocateRelease(50, owned)
allocateRelease(5)
listenRelease(50)
syscall(500)
for (let r = 0; r < rounds; r++) {
  out.findFree.push(findFree(500))
  out.getPort.push(await getPortLoop(500))
  out.dropinGetPort.push(await dropinLoop(500))
  out.allocateReleaseOwned.push(allocateRelease(500, owned))
  out.allocateRelease.push(allocateRelease(40))
  out.listenRelease.push(listenRelease(500))
  out.syscall.push(syscall(5000))
}
process.stdout.write(JSON.stringify(out) + '\n')
