'use strict'
// Rewrites the doc comments of a generated index.d.ts in place. Doc comments that reach
// napi-rs through a macro_rules! table (the operation list, the options objects) arrive as
// raw string literals, and napi-derive 3.7 prints those as written: `r" text` (or
// `r#" text"#`). This strips that spelling, leaving the text.
//
// Usage: node tools/fix-dts.js path/to/index.d.ts

const fs = require('node:fs')

const file = process.argv[2]
const text = fs.readFileSync(file, 'utf8')
const fixed = text.replace(/^(\s*(?:\/\*\*|\*) )r(#*)"(.*?)"?\2$/gm, (_, lead, hashes, body) => `${lead}${body.trimStart()}`)
fs.writeFileSync(file, fixed)
