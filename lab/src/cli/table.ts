/** Plain-text table with columns padded to their widest cell (what `inspect` prints). */
export function formatTable (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd() + '\n'
  return line(header) + rows.map(line).join('')
}
