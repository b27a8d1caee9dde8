#!/usr/bin/env node
'use strict'
// A tiny dev-server supervisor over portpool: it leases a port for each of two workers from a
// pool, starts each worker as a child process on its port, lists the registry, and asks each
// worker for a page. Every other portpool user on the host (another supervisor, a test run, a
// Python or Go service) is kept off those ports by the registry, with no port numbers written
// down anywhere.
//
//   PORTPOOL_REGISTRY=/tmp/dev.json node supervisor.js          # runs until Ctrl-C
//   PORTPOOL_REGISTRY=/tmp/dev.json node supervisor.js --once   # starts, checks, stops
//
// Once the workers answer, dev-web is reloaded with no downtime: a handover leases its next
// port with a ticket, a new worker starts there, and the commit names that ticket, so a second
// reload begun meanwhile (another SIGHUP, another supervisor) is refused instead of sharing the
// port. `PORTPOOL_NAMESPACE` names the namespace of the worker names (the default one when
// unset), so two projects running this supervisor may both call a worker dev-web.
//
// The leases belong to this process (`pid`): should it die without releasing them, the next
// `gc` (or the next allocation that needs the ports) reclaims them.

const { fork } = require('node:child_process')
const { once } = require('node:events')
const http = require('node:http')

const { Registry } = require('portpool')

if (process.argv[2] === 'worker') {
  // A worker: serve on the port the supervisor leased for it, then tell it we are up.
  const { WORKER, PORT } = process.env
  http
    .createServer((req, res) => res.end(`${WORKER} on port ${PORT}\n`))
    .listen(Number(PORT), '127.0.0.1', () => process.send('ready'))
} else {
  main().catch((err) => {
    console.error(`supervisor: ${err.code ?? err.name}: ${err.message}`)
    process.exit(1)
  })
}

function fetchText(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve(body))
      })
      .on('error', reject)
  })
}

async function main() {
  // $PORTPOOL_REGISTRY, else the host's default registry
  const reg = new Registry(undefined, { namespace: process.env.PORTPOOL_NAMESPACE || undefined })
  const pool = process.env.PORTPOOL_POOL || 'default'
  const workers = []

  async function stop() {
    for (const { child } of workers) child.kill()
    await Promise.all(workers.map(({ name }) => reg.releaseAllAsync(name)))
  }

  try {
    for (const name of ['dev-web', 'dev-api']) {
      // Off the main thread: the supervisor's event loop never waits on the registry lock.
      const port = await reg.allocateAsync(name, { pool, pid: process.pid })
      workers.push({ name, port, child: await startWorker(name, port) })
    }

    console.log(`registry ${reg.path}`)
    for (const lease of await reg.listAsync()) {
      console.log(`  ${lease.name}\t${lease.port}/${lease.protocol}\tpool ${lease.pool ?? '-'}\tpid ${lease.pid ?? '-'}`)
    }
    for (const { port } of workers) process.stdout.write(await fetchText(`http://127.0.0.1:${port}/`))
    await reload(reg, workers[0])
    process.stdout.write(await fetchText(`http://127.0.0.1:${workers[0].port}/`))
  } catch (err) {
    await stop()
    throw err
  }

  if (process.argv.includes('--once')) {
    await stop()
    return
  }
  console.log('supervising; Ctrl-C stops the workers and releases their ports')
  process.once('SIGINT', () => stop().then(() => process.exit(0)))
  process.once('SIGTERM', () => stop().then(() => process.exit(0)))
}

async function startWorker(name, port) {
  const child = fork(__filename, ['worker'], { env: { ...process.env, WORKER: name, PORT: String(port) } })
  await once(child, 'message')
  return child
}

// Hands `worker` over to a new child on the port its handover leased; the old child stops
// after the commit. A failed start aborts exactly this handover (its ticket).
async function reload(reg, worker) {
  const handover = await reg.beginHandoverTicketAsync(worker.name)
  let child
  try {
    child = await startWorker(worker.name, handover.port)
  } catch (err) {
    await reg.abortHandoverAsync(worker.name, { ticket: handover.ticket })
    throw err
  }
  await reg.commitHandoverAsync(worker.name, { ticket: handover.ticket })
  worker.child.kill()
  Object.assign(worker, { port: handover.port, child })
  console.log(`reloaded ${worker.name}: port ${handover.port} (ticket ${handover.ticket})`)
}
