#!/usr/bin/env node
// Echoes ava's TAP output and closes with "N passed, N failed, N skipped" (the line CI reads),
// also written to the file given as the first argument.
'use strict'
const fs = require('node:fs')
const readline = require('node:readline')
let passed = 0
let failed = 0
let skipped = 0
const failures = []
const skips = []
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  process.stdout.write(line + '\n')
  const m = /^(not ok|ok) \d+ - (.*?)(\s+# (SKIP|TODO)\b.*)?$/.exec(line)
  if (m === null) return
  if (m[4] !== undefined) { skipped++; skips.push(m[2]) }
  else if (m[1] === 'ok') passed++
  else { failed++; failures.push(m[2]) }
}).on('close', () => {
  const summary = `${passed} passed, ${failed} failed, ${skipped} skipped`
  if (skips.length > 0) process.stdout.write('\nskipped:\n' + skips.map(f => `  - ${f}\n`).join(''))
  if (failures.length > 0) process.stdout.write('\nfailed:\n' + failures.map(f => `  - ${f}\n`).join(''))
  process.stdout.write(summary + '\n')
  if (process.argv[2]) fs.writeFileSync(process.argv[2], summary + '\n')
})
