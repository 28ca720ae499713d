import { promises as fs } from 'node:fs'

const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const DT_NULL = 0n
const DT_NEEDED = 1n
const DT_STRTAB = 5n

/**
 * DT_NEEDED entries of a 64-bit little-endian ELF file (what `readelf -d` lists as NEEDED);
 * undefined when the file is not such an ELF or has no dynamic section. Used for plugins
 * (xtables modules): `ldd` on 120 of them costs three seconds on every image check, reading
 * their headers a few milliseconds.
 */
export async function neededLibraries (file: string): Promise<string[] | undefined> {
  return (await readElfDynamic(file))?.needed
}

/** The program interpreter (dynamic loader) and NEEDED sonames of an ELF file. */
export async function readElfDynamic (file: string): Promise<{ interp?: string, needed: string[] } | undefined> {
  const buf = await fs.readFile(file)
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined
  const phoff = Number(buf.readBigUInt64LE(0x20))
  const phentsize = buf.readUInt16LE(0x36)
  const phnum = buf.readUInt16LE(0x38)
  const loads: Array<{ vaddr: bigint, offset: bigint, filesz: bigint }> = []
  let dynamic: { offset: number, size: number } | undefined
  let interp: string | undefined
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize
    if (p + 56 > buf.length) return undefined
    const type = buf.readUInt32LE(p)
    const offset = buf.readBigUInt64LE(p + 8)
    const vaddr = buf.readBigUInt64LE(p + 16)
    const filesz = buf.readBigUInt64LE(p + 32)
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz })
    if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) }
    if (type === PT_INTERP) interp = buf.toString('latin1', Number(offset), Number(offset + filesz)).replace(/\0+$/, '')
  }
  if (dynamic === undefined) return undefined
  const needed: bigint[] = []
  let strtab: bigint | undefined
  for (let d = dynamic.offset; d + 16 <= dynamic.offset + dynamic.size && d + 16 <= buf.length; d += 16) {
    const tag = buf.readBigInt64LE(d)
    const val = buf.readBigUInt64LE(d + 8)
    if (tag === DT_NULL) break
    if (tag === DT_NEEDED) needed.push(val)
    if (tag === DT_STRTAB) strtab = val
  }
  if (strtab === undefined) return needed.length === 0 ? { interp, needed: [] } : undefined
  const seg = loads.find(l => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz)
  if (seg === undefined) return undefined
  const base = Number(strtab - seg.vaddr + seg.offset)
  return {
    interp,
    needed: needed.map(off => {
      const start = base + Number(off)
      return buf.toString('latin1', start, buf.indexOf(0, start))
    })
  }
}

/**
 * What the loader would map for these files, resolved the way ld.so does on a multiarch
 * system without RUNPATHs: the interpreter, then each NEEDED soname in the first of libDirs
 * holding it, transitively. Files it cannot account for (not ELF, soname not found) are
 * returned in `unresolved` for ldd to explain.
 */
export async function elfDependencies (files: string[], libDirs: string[]): Promise<{ libraries: string[], unresolved: string[] }> {
  const libraries = new Set<string>()
  const unresolved = new Set<string>()
  const bySoname = new Map<string, string | undefined>()
  const seen = new Set<string>()
  const queue = [...files]
  while (queue.length > 0) {
    const file = queue.shift() as string
    if (seen.has(file)) continue
    seen.add(file)
    const elf = await readElfDynamic(file).catch(() => undefined)
    if (elf === undefined) { unresolved.add(file); continue }
    if (elf.interp !== undefined && !libraries.has(elf.interp)) { libraries.add(elf.interp) }
    for (const soname of elf.needed) {
      if (!bySoname.has(soname)) {
        let found: string | undefined
        for (const dir of libDirs) {
          const candidate = `${dir}/${soname}`
          if (await fs.stat(candidate).then(s => s.isFile(), () => false)) { found = candidate; break }
        }
        bySoname.set(soname, found)
        if (found !== undefined) { libraries.add(found); queue.push(found) }
      }
      if (bySoname.get(soname) === undefined) unresolved.add(file)
    }
  }
  return { libraries: [...libraries].sort(), unresolved: [...unresolved].sort() }
}
