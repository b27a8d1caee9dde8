// ESM entry point of `portpool/get-port`: the same functions as the CommonJS one, get-port.js.
import { createRequire } from 'node:module'

const getPort = createRequire(import.meta.url)('./get-port.js')

export const { portNumbers, clearLockedPorts, LOCK_SECONDS } = getPort
export default getPort
