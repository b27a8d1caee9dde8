'use strict'
// Interop worker in Node: `node worker.js REGISTRY WORKER_ID OPS LOG`.
//
// Runs the cycle every interop worker runs (see ../README.md) against pool "interop" of
// REGISTRY through `require('portpool')`, and writes one JSON object per line to LOG. OPS 0
// only lists the registry once and logs what it saw. Any failed call exits 1 with the call and
// the error's code and message on stderr.

const fs = require('node:fs')
const { performance } = require('node:perf_hooks')
const { Registry } = require('portpool')

const POOL = 'interop'

// Node has no CLOCK_REALTIME nanosecond call: the process's start in Unix time (microseconds)
// plus the monotonic time since, which advances at the realtime clock's rate.
const ORIGIN_NS = BigInt(Math.round(performance.timeOrigin * 1e3)) * 1000n
function nowNs() {
  return (ORIGIN_NS + BigInt(Math.round(performance.now() * 1e6))).toString()
}

const [registry, workerId, opsText, logPath] = process.argv.slice(2)
if (logPath === undefined) {
  console.error('usage: node worker.js REGISTRY WORKER_ID OPS LOG')
  process.exit(2)
}
const lines = []
// Timestamps go out as bare integers: a JS number cannot hold nanoseconds since 1970 exactly.
const write = (record, t) =>
  lines.push(t === undefined ? JSON.stringify(record) : JSON.stringify(record).slice(0, -1) + `,"t":${t}}`)

const reg = new Registry(registry)
let count = 0

function call(what, fn, ...args) {
  let result
  try {
    result = fn.apply(reg, args)
  } catch (err) {
    console.error(`worker ${workerId}: ${what}(${args.join(', ')}) failed: ${err.code}: ${err.message}`)
    process.exit(1)
  }
  count++
  return result
}

function die(message) {
  console.error(`worker ${workerId}: ${message}`)
  process.exit(1)
}

// Logged only after the call that leased the port returned.
const acquired = (held, port) => write({ ev: 'acq', name: held.name, port, proto: held.protocol }, nowNs())
// Logged before the call that releases the port.
const released = (held, port) => write({ ev: 'rel', name: held.name, port, proto: held.protocol }, nowNs())

// Leases a port of the pool to `name`; returns what the worker then holds.
function allocate(name, protocol) {
  const port = call('allocate', reg.allocate, name, { pool: POOL, protocol })
  const held = { name, port, protocol, next: null }
  acquired(held, port)
  return held
}

function beginHandover(held) {
  held.next = call('beginHandover', reg.beginHandover, held.name)
  acquired(held, held.next)
}

// Commits a handover when none is under way: the one error the run expects.
function commitWithoutHandover(held) {
  let port
  try {
    port = reg.commitHandover(held.name)
  } catch (err) {
    if (err.code !== 'PORTPOOL_NOT_FOUND') die(`commitHandover without a handover threw ${err.code}: ${err.message}`)
    count++
    return
  }
  die(`commitHandover without a handover returned ${port}`)
}

function commitHandover(held) {
  released(held, held.port)
  const port = call('commitHandover', reg.commitHandover, held.name)
  if (port !== held.next) die(`commitHandover returned ${port}, begin gave ${held.next}`)
  held.port = port
  held.next = null
}

function abortHandover(held) {
  released(held, held.next)
  const port = call('abortHandover', reg.abortHandover, held.name)
  if (port !== held.next) die(`abortHandover returned ${port}, begin gave ${held.next}`)
  held.next = null
}

function release(held) {
  released(held, held.port)
  if (!call('release', reg.release, held.name)) die(`release(${held.name}) found no lease`)
}

// Lists the registry and logs it beside what this worker holds, for the driver to check.
function listAndLog(ev, own) {
  const leases = call('list', reg.list).map((l) => ({
    name: l.name,
    port: l.port,
    protocol: l.protocol,
    next: l.next ? l.next.port : null,
  }))
  write({ ev, own, leases })
}

const ops = Number(opsText)
if (ops === 0) {
  listAndLog('seen', [])
} else {
  const keepers = [allocate(`${workerId}-keep-a`, 'tcp'), allocate(`${workerId}-keep-b`, 'udp')]
  for (let i = 0; count < ops; i++) {
    const held = allocate(`${workerId}-t${i}`, ['tcp', 'udp', 'tcp+udp'][Math.floor(i / 3) % 3])
    const kind = i % 3 // 0: hand over and commit, 1: hand over and abort, 2: neither
    if (kind !== 2) beginHandover(held)
    listAndLog('list', [...keepers, held])
    if (kind === 0) commitHandover(held)
    else if (kind === 1) abortHandover(held)
    else commitWithoutHandover(held)
    release(held)
  }
  beginHandover(keepers[0])
  commitHandover(keepers[0])
  for (const { name, port, protocol } of keepers) write({ ev: 'keep', name, port, protocol })
}
write({ ev: 'done', ops: count })
fs.writeFileSync(logPath, lines.join('\n') + '\n')
