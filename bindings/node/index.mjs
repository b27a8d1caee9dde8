// ESM entry point of `portpool`: the same objects as the CommonJS entry point, index.js.
import { createRequire } from 'node:module'

const portpool = createRequire(import.meta.url)('./index.js')

export const { Registry, ScopedLease, isFree, findFree, isPortpoolError, unnamedLeaseName, VERSION } = portpool
export default portpool
