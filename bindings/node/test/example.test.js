'use strict'
// examples/node/supervisor.js runs as documented.

const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { Registry } = require('..')
const { PACKAGE_DIR, REPO, tempDir, tempRegistry } = require('./helpers')

test('the_supervisor_example_runs_two_workers_on_leased_ports_and_releases_them', () => {
  const modules = path.join(tempDir(), 'node_modules')
  fs.mkdirSync(modules)
  fs.symlinkSync(PACKAGE_DIR, path.join(modules, 'portpool'), 'dir')
  const registry = tempRegistry()
  const reg = new Registry(registry)
  reg.setPool('dev', 47900, 47949, { probe: true })
  const out = execFileSync(process.execPath, ['supervisor.js', '--once'], {
    cwd: path.join(REPO, 'examples', 'node'),
    env: { ...process.env, NODE_PATH: modules, PORTPOOL_REGISTRY: registry, PORTPOOL_POOL: 'dev' },
    encoding: 'utf8',
  })
  const leased = [...out.matchAll(/^ {2}(dev-\w+)\t(\d+)\/tcp\tpool dev\tpid (\d+)$/gm)].map((m) => [m[1], Number(m[2])])
  assert.deepEqual(
    leased.map(([name]) => name),
    ['dev-api', 'dev-web'],
    out,
  )
  for (const [name, port] of leased) {
    assert.ok(port >= 47900 && port <= 47949, String(port))
    assert.ok(out.includes(`${name} on port ${port}\n`), out)
  }
  assert.match(out, /^reloaded dev-web: port \d+ \(ticket 1\)$/m, 'a ticketed handover')
  assert.deepEqual(reg.list(), [], 'the supervisor released its leases')
})
