// A device region seen through VFIO: a BAR mapped into our address space (honouring the
// sparse-mmap areas the kernel allows), or read and written with pread/pwrite where it
// cannot be mapped. Every access is of exactly the width asked for: registers and
// doorbells must never be torn or merged. When the device stops decoding memory (Memory
// Space Enable cleared, a PCIe error, a surprise removal) the kernel takes the mapped pages
// away; the native core then answers every access to them with all ones instead of SIGBUS,
// and `gone` says so.

import type { Logger } from 'pino';
import { native, type Mapping, type RegionInfo } from '../native.js';
import { closed, hex, misaligned, outOfRange, VfioError } from '../errors.js';
import type { Tracer } from '../trace.js';

const C = native.constants;
type Width = 1 | 2 | 4 | 8;

interface Area {
  start: number;
  end: number;
  mapping: Mapping;
}

/**
 * A device region through VFIO: a BAR mapped into our address space, or read and written with pread/pwrite where
 * it cannot be mapped. Every access is of exactly the width asked for; `gone` says the device stopped decoding
 * it.
 */
export class Region {
  readonly index: number;
  readonly size: number;
  readonly info: RegionInfo;
  /** Register names by offset, for the trace log (supplied by the driver). */
  private names = new Map<number, string>();
  private areas: Area[] = [];
  private trace: boolean;
  /** The driver's tracer (and who to name in its lines), when tracing is on; see traceTo(). */
  private tracer: { t: Tracer; who: string; sections: Map<number, string> } | null = null;
  /** While a driver polls a register it collapses the reads into one trace line: no line per read. */
  traceMuted = false;
  private isClosed = false;
  private wasGone = false;

  constructor(
    private readonly deviceFd: number,
    info: RegionInfo,
    private readonly log: Logger,
    private readonly label: string,
  ) {
    this.index = info.index;
    this.info = info;
    if (info.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new VfioError({ code: 'ERR_REGION_TOO_LARGE', message: `${label} is ${info.size} bytes: too large to map` });
    this.size = Number(info.size);
    this.trace = log.isLevelEnabled('trace');
    if (info.flags & C.VFIO_REGION_INFO_FLAG_MMAP! && this.size > 0) {
      const areas = info.sparseMmap ?? [{ offset: 0n, size: info.size }];
      for (const a of areas) {
        if (a.size === 0n) continue;
        const mapping = new native.Mapping(deviceFd, info.offset + a.offset, Number(a.size));
        this.areas.push({ start: Number(a.offset), end: Number(a.offset + a.size), mapping });
      }
    }
  }

  /** The mapping that covers the whole region, when there is one (drivers' C hot loops use it). */
  get mapping(): Mapping | undefined {
    const a = this.areas[0];
    return a && a.start === 0 && a.end === this.size ? a.mapping : undefined;
  }

  /**
   * True once an access to a mapped part of the region found it gone (the device stopped
   * decoding memory: Memory Space Enable cleared, a PCIe error, a surprise removal). Those
   * accesses read all ones and writes reach nothing; a driver should treat the device as
   * gone. Parts reached through pread/pwrite are not covered (the kernel fails those or
   * reads all ones). Stays true after close().
   */
  get gone(): boolean {
    if (!this.wasGone) this.wasGone = this.areas.some((a) => a.mapping.gone);
    return this.wasGone;
  }

  /** Names the registers of this region for the trace log: offset → spec name (CAP, CC, SQ0TDBL...). */
  setRegisterNames(names: Record<number, string> | Map<number, string>): void {
    this.names = names instanceof Map ? new Map(names) : new Map(Object.entries(names).map(([k, v]) => [Number(k), v]));
    this.trace = this.log.isLevelEnabled('trace');
  }

  /**
   * Sends every register access to `tracer` as a line ("write CC = 0x460001  Base 2.0
   * §3.1.3.5"), naming the registers with setRegisterNames() and citing `sections`
   * (register name → the section that defines it). null stops it.
   */
  traceTo(tracer: Tracer | null, who = this.label, sections: Record<string, string> = {}): void {
    if (!tracer) {
      this.tracer = null;
      return;
    }
    // By offset: a name's own section, or its pattern's with the queue number as y (SQ3TDBL: SQyTDBL).
    const bySection = new Map<number, string>();
    for (const [offset, name] of this.names) {
      const section = sections[name] ?? sections[name.replace(/\d+/, 'y')];
      if (section) bySection.set(offset, section);
    }
    this.tracer = { t: tracer, who, sections: bySection };
  }

  /** Reads the 8-bit register at offset. */
  read8(offset: number): number {
    return Number(this.read(offset, 1));
  }
  /** Reads the 16-bit register at offset. */
  read16(offset: number): number {
    return Number(this.read(offset, 2));
  }
  /** Reads the 32-bit register at offset. */
  read32(offset: number): number {
    return Number(this.read(offset, 4));
  }
  /** Reads the 64-bit register at offset (one 8-byte access). */
  read64(offset: number): bigint {
    return this.read(offset, 8);
  }
  /** Writes the 8-bit register at offset. */
  write8(offset: number, value: number): void {
    this.write(offset, 1, value);
  }
  /** Writes the 16-bit register at offset. */
  write16(offset: number, value: number): void {
    this.write(offset, 2, value);
  }
  /** Writes the 32-bit register at offset. */
  write32(offset: number, value: number): void {
    this.write(offset, 4, value);
  }
  /** Writes the 64-bit register at offset (one 8-byte access). */
  write64(offset: number, value: bigint): void {
    this.write(offset, 8, value);
  }

  private check(offset: number, width: Width): Area | undefined {
    if (this.isClosed) throw closed(this.label);
    if (!Number.isInteger(offset) || offset < 0 || offset + width > this.size) {
      throw outOfRange(`${this.label} register access`, offset, width, this.size, 'Check the register offset against the specification and the region size (vfio-node info ADDR).');
    }
    if (offset % width !== 0) throw misaligned(`${this.label} ${width * 8}-bit access`, offset, width);
    for (const a of this.areas) if (offset >= a.start && offset + width <= a.end) return a;
    if (!(this.info.flags & C.VFIO_REGION_INFO_FLAG_READ!)) {
      throw new VfioError({ code: 'ERR_REGION_NOT_ACCESSIBLE', message: `${this.label} offset ${hex(offset)} is neither mapped nor readable through VFIO` });
    }
    return undefined;
  }

  private read(offset: number, width: Width): bigint {
    const area = this.check(offset, width);
    let v: bigint;
    if (area) {
      const o = offset - area.start;
      v = width === 8 ? area.mapping.read64(o) : BigInt(width === 4 ? area.mapping.read32(o) : width === 2 ? area.mapping.read16(o) : area.mapping.read8(o));
    } else {
      v = native.preadWidth(this.deviceFd, this.info.offset + BigInt(offset), width);
    }
    if (this.trace) this.log.trace({ region: this.label, reg: this.names.get(offset), offset: hex(offset), value: hex(v), width: width * 8 }, 'read');
    if (this.tracer !== null && !this.traceMuted) this.traceLine('read', offset, v);
    return v;
  }

  private write(offset: number, width: Width, value: number | bigint): void {
    const area = this.check(offset, width);
    if (this.trace) this.log.trace({ region: this.label, reg: this.names.get(offset), offset: hex(offset), value: hex(value), width: width * 8 }, 'write');
    if (this.tracer !== null) this.traceLine('write', offset, value);
    if (area) {
      const o = offset - area.start;
      if (width === 8) area.mapping.write64(o, BigInt(value));
      else if (width === 4) area.mapping.write32(o, Number(value));
      else if (width === 2) area.mapping.write16(o, Number(value));
      else area.mapping.write8(o, Number(value));
    } else {
      native.pwriteWidth(this.deviceFd, this.info.offset + BigInt(offset), width, value);
    }
  }

  private traceLine(op: 'read' | 'write', offset: number, value: number | bigint): void {
    const tr = this.tracer!;
    tr.t.emit(tr.who, 'reg', `${op} ${this.names.get(offset) ?? hex(offset)} ${op === 'read' ? '->' : '<-'} ${hex(value)}`, tr.sections.get(offset));
  }

  /** Unmaps the region. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.wasGone = this.gone; // remembered before the mappings go
    for (const a of this.areas) a.mapping.unmap();
    this.areas = [];
  }
}
