'use strict'
// Shared by the test files: scratch registries, the CLI, and servers that hold ports.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const PACKAGE_DIR = path.join(__dirname, '..')
const REPO = path.join(PACKAGE_DIR, '..', '..')

/** A fresh directory under the system temp dir, removed when the process exits. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portpool-node-'))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A path for a registry file that does not exist yet. */
function tempRegistry() {
  return path.join(tempDir(), 'registry.json')
}

/** The `portpool` command line built from this workspace. */
function cliPath() {
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target')
  const cli = process.env.PORTPOOL_CLI || path.join(target, 'debug', 'portpool')
  if (!fs.existsSync(cli)) {
    throw new Error(`no portpool CLI at ${cli}: run \`make -C bindings/node test\`, which builds it`)
  }
  return cli
}

/** Runs the CLI on `registry`; returns { status, stdout, stderr }. */
function cli(registry, ...args) {
  const result = spawnSync(cliPath(), ['--registry', registry, ...args], { encoding: 'utf8' })
  if (result.error) throw result.error
  return result
}

/** Runs the CLI and returns its trimmed stdout, failing on a non-zero exit. */
function cliOk(registry, ...args) {
  const result = cli(registry, ...args)
  if (result.status !== 0) {
    throw new Error(`portpool ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  }
  return result.stdout.trim()
}

/** A TCP server listening on `port` (0: any) on the IPv4 wildcard; resolves to the server. */
function listen(port = 0) {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => resolve(server))
  })
}

function close(server) {
  return new Promise((resolve) => server.close(() => resolve()))
}

/**
 * `n` consecutive ports in [`lo`, `hi`), each free now for TCP and UDP: a test file gives its
 * own range, so that files running at once never pick the same ports. The search starts at a
 * random block of the range and tries each block once, so that two runs of the suite on one
 * host (or a server that came and went) rarely meet on the same ports.
 */
function freeRun(n, lo, hi) {
  const { isFree } = require('..')
  const blocks = Math.floor((hi - lo) / n)
  const first = Math.floor(Math.random() * blocks)
  for (let i = 0; i < blocks; i++) {
    const start = lo + ((first + i) % blocks) * n
    const ports = Array.from({ length: n }, (_, j) => start + j)
    if (ports.every((p) => isFree(p) && isFree(p, 'udp'))) return ports
  }
  throw new Error(`no ${n} consecutive free ports in ${lo}-${hi - 1}`)
}

/** The workspace version from the root Cargo.toml's [workspace.package]. */
function cargoVersion() {
  const text = fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8')
  const section = text.split(/^\[workspace\.package\]\s*$/m)[1]
  if (!section) throw new Error('Cargo.toml has no [workspace.package] section')
  const match = section.split(/^\[/m)[0].match(/^version\s*=\s*"([^"]+)"/m)
  if (!match) throw new Error('Cargo.toml [workspace.package] has no version')
  return match[1]
}

module.exports = {
  PACKAGE_DIR,
  REPO,
  tempDir,
  tempRegistry,
  cli,
  cliOk,
  cliPath,
  listen,
  close,
  freeRun,
  cargoVersion,
  execFileSync,
}
