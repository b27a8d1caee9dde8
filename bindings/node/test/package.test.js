'use strict'
// The package as npm sees it: committed type definitions, one version number, entry points.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { PACKAGE_DIR, tempDir, tempRegistry, cargoVersion } = require('./helpers')
const portpool = require('..')

const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'))
const committedDts = fs.readFileSync(path.join(PACKAGE_DIR, 'index.d.ts'), 'utf8')

test('committed_index_d_ts_is_what_the_build_generates', () => {
  const fresh = process.env.PORTPOOL_NODE_FRESH_DTS
  assert.ok(fresh, 'PORTPOOL_NODE_FRESH_DTS names the index.d.ts of a fresh build (`make test` sets it)')
  assert.equal(
    committedDts,
    fs.readFileSync(fresh, 'utf8'),
    'index.d.ts differs from what the build generated: run `make -C bindings/node dts` and commit it',
  )
})

test('package_version_is_the_cargo_workspace_version', () => {
  const version = cargoVersion()
  assert.equal(pkg.version, version)
  assert.equal(portpool.VERSION, version)
  const lock = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package-lock.json'), 'utf8'))
  assert.equal(lock.version, version)
  assert.equal(lock.packages[''].version, version)
})

test('package_json_names_the_entry_points_and_pins_the_napi_cli', () => {
  assert.equal(pkg.name, 'portpool')
  assert.equal(pkg.main, 'index.js')
  assert.equal(pkg.types, 'index.d.ts')
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', import: './index.mjs', require: './index.js' })
  assert.equal(pkg.devDependencies['@napi-rs/cli'], '3.10.12')
  assert.equal(pkg.devDependencies.typescript, '6.0.3')
  for (const file of pkg.files) assert.ok(fs.existsSync(path.join(PACKAGE_DIR, file)), `${file} exists`)
})

test('index_js_exports_exactly_what_index_d_ts_declares', () => {
  // A function declared more than once is one export with overloads (findFree).
  const declared = [...new Set([...committedDts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1]))]
  assert.deepEqual(Object.keys(portpool).sort(), declared.sort())
  const methods = [...committedDts.split('export declare class Registry {')[1].split('\n}\n')[0].matchAll(/^  (\w+)\(/gm)]
    .map((m) => m[1])
    .filter((name) => name !== 'constructor')
  const proto = portpool.Registry.prototype
  const runtime = Object.getOwnPropertyNames(proto).filter(
    (name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, name).value === 'function',
  )
  assert.deepEqual(runtime.sort(), methods.sort())
  for (const name of runtime.filter((n) => !n.endsWith('Async'))) {
    if (['register', 'allocate', 'get', 'release', 'list', 'pools', 'setPool', 'reset', 'gc', 'renew', 'check'].includes(name)) {
      assert.ok(runtime.includes(`${name}Async`), `${name} has a Promise twin`)
    }
  }
})

test('the_error_code_union_of_index_d_ts_lists_every_code_the_addon_gives', () => {
  const union = committedDts.split('export type PortpoolErrorCode =')[1].split('\n\n')[0]
  const declared = [...union.matchAll(/'(PORTPOOL_\w+)'/g)].map((m) => m[1])
  const source = fs.readFileSync(path.join(PACKAGE_DIR, 'src', 'lib.rs'), 'utf8')
  const body = source.split('fn code(kind: pp::ErrorKind)')[1].split('\n}\n')[0]
  const given = [...body.matchAll(/=> "(PORTPOOL_\w+)"/g)].map((m) => m[1])
  assert.ok(given.length >= 6, body)
  assert.deepEqual(declared.sort(), given.sort())
  assert.match(committedDts, /^export interface PortpoolError extends Error \{\n  code: PortpoolErrorCode\n\}/m)
})

test('the_package_runs_no_install_script_and_ships_both_licenses', () => {
  // napi-rs's convention: the addon ships built inside the tarball, so npm (11 warns about
  // install scripts not covered by allowScripts) runs nothing at install time.
  for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts[hook], undefined, hook)
  assert.ok(!fs.existsSync(path.join(PACKAGE_DIR, 'binding.gyp')), 'no binding.gyp (npm would run node-gyp)')
  for (const license of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.ok(pkg.files.includes(license), license)
    assert.equal(
      fs.readFileSync(path.join(PACKAGE_DIR, license), 'utf8'),
      fs.readFileSync(path.join(PACKAGE_DIR, '..', '..', license), 'utf8'),
    )
  }
})

test('requiring_the_package_without_its_addon_names_the_build_command', () => {
  const unbuilt = tempDir()
  for (const file of ['index.js', 'package.json']) fs.copyFileSync(path.join(PACKAGE_DIR, file), path.join(unbuilt, file))
  const node = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(unbuilt)})`], { encoding: 'utf8' })
  assert.notEqual(node.status, 0)
  assert.match(node.stderr, /portpool\.node is not built; run `make -C bindings\/node release`/)
})

/** A directory whose node_modules/portpool is this package, as after `npm install`. */
function consumerDir() {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(PACKAGE_DIR, path.join(dir, 'node_modules', 'portpool'), 'dir')
  return dir
}

test('esm_import_and_require_give_the_same_package', () => {
  const dir = consumerDir()
  const registry = tempRegistry()
  const script = `
    import portpool, { Registry, isFree, findFree, VERSION } from 'portpool'
    import { createRequire } from 'node:module'
    const cjs = createRequire(import.meta.url)('portpool')
    if (Registry !== cjs.Registry || portpool.Registry !== Registry) throw new Error('two Registry classes')
    if (isFree !== cjs.isFree || findFree !== cjs.findFree || VERSION !== cjs.VERSION) throw new Error('two packages')
    const reg = new Registry(process.argv[1])
    const port = await reg.allocateAsync('esm')
    console.log(JSON.stringify({ port, got: reg.get('esm'), version: VERSION }))
  `
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, registry], { cwd: dir, encoding: 'utf8' })
  const { port, got, version } = JSON.parse(out)
  assert.equal(got, port)
  assert.equal(version, pkg.version)
  assert.equal(new portpool.Registry(registry).get('esm'), port)
})

test('require_by_package_name_works_from_a_consumer', () => {
  const dir = consumerDir()
  const out = execFileSync(
    process.execPath,
    ['-e', "const { Registry } = require('portpool'); console.log(typeof Registry, require('portpool/package.json').name)"],
    { cwd: dir, encoding: 'utf8' },
  )
  assert.equal(out.trim(), 'function portpool')
})

test('typescript_accepts_code_written_against_index_d_ts_and_rejects_misuse', () => {
  // One compiler run over two files: consumer.mts must compile cleanly, and each of lines 5-14
  // of misuse.mts (wrong argument types, modes, protocols, result types) must be an error.
  const dir = consumerDir()
  for (const file of ['consumer.mts', 'misuse.mts']) {
    fs.copyFileSync(path.join(__dirname, 'fixtures', file), path.join(dir, file))
  }
  const tsc = path.join(PACKAGE_DIR, 'node_modules', 'typescript', 'bin', 'tsc')
  const options = ['--noEmit', '--strict', '--skipDefaultLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext']
  const result = spawnSync(process.execPath, [tsc, ...options, '--target', 'es2022', 'consumer.mts', 'misuse.mts'], {
    cwd: dir,
    encoding: 'utf8',
  })
  const errors = [...result.stdout.matchAll(/^(\S+)\((\d+),\d+\): error TS/gm)].map((m) => `${m[1]}:${m[2]}`)
  assert.deepEqual(
    errors,
    Array.from({ length: 10 }, (_, i) => `misuse.mts:${i + 5}`),
    result.stdout + result.stderr,
  )
})

test('typescript_accepts_await_using_a_scoped_lease', () => {
  // `await using` needs explicit resource management in TypeScript's library (esnext).
  const dir = consumerDir()
  fs.copyFileSync(path.join(__dirname, 'fixtures', 'scoped.mts'), path.join(dir, 'scoped.mts'))
  const tsc = path.join(PACKAGE_DIR, 'node_modules', 'typescript', 'bin', 'tsc')
  const options = ['--noEmit', '--strict', '--skipDefaultLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext']
  const result = spawnSync(
    process.execPath,
    [tsc, ...options, '--target', 'es2022', '--lib', 'esnext,dom', 'scoped.mts'],
    { cwd: dir, encoding: 'utf8' },
  )
  assert.equal(result.status, 0, result.stdout + result.stderr)
})
