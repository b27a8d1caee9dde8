// An HTTP server on the socket `portpool run --listen` passes as fd 3.
'use strict'
const http = require('node:http')

const mine = process.env.LISTEN_PID === String(process.pid)
http
  .createServer((req, res) => res.end(`node listen-pid-is-mine=${mine ? 'True' : 'False'}`))
  .listen({ fd: 3 })
process.on('SIGTERM', () => process.exit(0))
