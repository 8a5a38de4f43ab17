/**
 * What `file` says about a native library: the ELF header's class and machine, enough to tell
 * whether a `.node` addon or `.so` was built for this CPU.
 *
 * Format facts (System V ABI, "ELF Header"; the values of glibc's elf.h): bytes 0–3 are
 * 0x7f 'E' 'L' 'F'; byte 4 (EI_CLASS) is 1 for 32-bit, 2 for 64-bit; byte 5 (EI_DATA) is 1 for
 * little-endian, 2 for big-endian; e_machine is the 16-bit field at offset 18, in that byte order:
 * EM_386 = 3, EM_ARM = 40, EM_X86_64 = 62, EM_AARCH64 = 183, EM_RISCV = 243.
 */
import * as fs from 'node:fs';

/** The ELF header fields the doctor reads. */
export interface ElfInfo {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  /** e_machine. */
  machine: number;
  /** Node's name for that machine ('x64', 'arm64', 'arm', 'ia32', 'riscv64'), or `machine <n>`. */
  arch: string;
}

const MACHINES: Readonly<Record<number, string>> = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64', 243: 'riscv64' };

/** The ELF header of `bytes` (at least its first 20 bytes), or null when they are not ELF. */
export function parseElfHeader(bytes: Uint8Array): ElfInfo | null {
  if (bytes.length < 20 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return null;
  if ((bytes[4] !== 1 && bytes[4] !== 2) || (bytes[5] !== 1 && bytes[5] !== 2)) return null;
  const machine = bytes[5] === 1 ? bytes[18] | (bytes[19] << 8) : (bytes[18] << 8) | bytes[19];
  return { bits: bytes[4] === 1 ? 32 : 64, machine, arch: MACHINES[machine] ?? `machine ${machine}` };
}

/** The ELF header of a file, or null when it is unreadable or not ELF. */
export function readElfHeader(file: string): ElfInfo | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(20);
    const n = fs.readSync(fd, head, 0, 20, 0);
    return parseElfHeader(head.subarray(0, n));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
