// One process of the headline harness, for a Node contender: `worker.mjs MODULE_PATH COUNT`.
//
// Imports the get-port-shaped module at MODULE_PATH (the original get-port or
// portpool/get-port), prints `ready`, waits for a line on stdin, asks for COUNT ports with
// `getPort()` without binding any, prints them as a JSON list, then stays alive (holding
// whatever the library holds for it) until stdin closes.
import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'

const [modulePath, count] = process.argv.slice(2)
const { default: getPort } = await import(pathToFileURL(modulePath).href)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
console.log('ready')
await lines.next()
const ports = []
for (let i = 0; i < Number(count); i++) ports.push(await getPort())
console.log(JSON.stringify(ports))
while (!(await lines.next()).done);
