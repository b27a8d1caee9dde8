'use strict'
// npm's `install` script of the `portpool` package. A package made by `npm pack` holds the
// built addon, portpool.node, and this passes. Installed from an unbuilt source directory
// (`npm install path/to/bindings/node`), the addon is missing: fail now, naming the command
// that builds it, rather than let `require('portpool')` fail later. In the source tree itself
// (`npm ci` run there, as `make` does) the addon is built after the install: nothing to check.

const fs = require('node:fs')
const path = require('node:path')

const here = fs.realpathSync(path.join(__dirname, '..'))
const initCwd = process.env.INIT_CWD
const inSourceTree = initCwd !== undefined && fs.existsSync(initCwd) && fs.realpathSync(initCwd) === here

if (!fs.existsSync(path.join(here, 'portpool.node')) && !inSourceTree) {
  console.error(
    `portpool: the native addon portpool.node is not built in ${here}.\n` +
      'portpool: build it with `make -C bindings/node release` in the portpool clone (needs Rust),\n' +
      'portpool: or install the tarball that `npm pack` makes there (no Rust needed).',
  )
  process.exit(1)
}
