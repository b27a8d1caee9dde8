// The Node part of `make bench` (run by bench/run.py): portpool's findFree against get-port,
// and Registry.allocate, interleaved round by round. Prints, as JSON, each contender's seconds
// per call in every round. PORTPOOL_NODE is the index.js of the portpool package to load,
// BENCH_REGISTRY a scratch registry, ROUNDS the number of rounds.
import { createRequire } from 'node:module'
import getPort from 'get-port'

const portpool = createRequire(import.meta.url)(process.env.PORTPOOL_NODE)
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

// allocate is timed; the release that undoes it is not.
function allocate(n) {
  let spent = 0
  for (let i = 0; i < n; i++) {
    const t = now()
    reg.allocate('node-bench')
    spent += now() - t
    reg.release('node-bench')
  }
  return spent / n
}

const out = { findFree: [], getPort: [], allocate: [] }
// One untimed pass of each, so that nothing is measured cold.
findFree(50)
await getPortLoop(50)
allocate(5)
for (let r = 0; r < rounds; r++) {
  out.findFree.push(findFree(500))
  out.getPort.push(await getPortLoop(500))
  out.allocate.push(allocate(40))
}
process.stdout.write(JSON.stringify(out) + '\n')
