'use strict'
// Completes package-lock.json after `npm install`: npm leaves out the platform packages that
// the registry it reached did not serve (the @napi-rs/cli toolchain's builds for other
// operating systems and CPUs), and `npm ci` then refuses the lock file as out of sync
// (npm/cli#9846). This adds each missing optional package as a placeholder entry — name,
// version, optional — which `npm ci` accepts and skips where it does not install.
//
// Usage: node tools/complete-lock.js   (after `npm install --package-lock-only`)

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const dir = path.join(__dirname, '..')
const lockPath = path.join(dir, 'package-lock.json')

let report = ''
try {
  execFileSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
} catch (err) {
  report = `${err.stdout}${err.stderr}`
}
const missing = [...report.matchAll(/Missing: (.+?)@\S* from lock file/g)].map((m) => m[1])
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'))
for (const name of missing) {
  const parent = Object.values(lock.packages).find((p) => p.optionalDependencies?.[name])
  if (!parent) throw new Error(`${name} is missing but no package lists it as optional`)
  lock.packages[`node_modules/${name}`] = {
    version: parent.optionalDependencies[name],
    dev: true,
    optional: true,
  }
}
const keys = Object.keys(lock.packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1))
lock.packages = Object.fromEntries(keys.map((k) => [k, lock.packages[k]]))
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`package-lock.json: added ${missing.length} placeholder entries`)
