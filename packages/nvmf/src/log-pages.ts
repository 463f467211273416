// The log pages the target returns (NVMe Base 2.0 §5.16.1): Error Information (01h),
// SMART / Health Information (02h), Firmware Slot Information (03h), Changed Namespace
// List (04h), and the Discovery
// log page (70h, §5.16.1.23) of a discovery controller.

/** Log Page Identifiers (LID). */
export const LID = {
  ErrorInformation: 0x01,
  SmartHealthInformation: 0x02,
  FirmwareSlotInformation: 0x03,
  ChangedNamespaceList: 0x04,
  Discovery: 0x70,
} as const;

/** Error Information (01h): one 64-byte entry with Error Count 0 (no error recorded). */
export function errorInformationLog(): Buffer {
  return Buffer.alloc(64);
}

/** SMART / Health Information (02h, 512 bytes): a healthy, cool, unused device. */
export function smartHealthLog(): Buffer {
  const b = Buffer.alloc(512);
  b[0] = 0; // Critical Warning: none
  b.writeUInt16LE(273 + 25, 1); // Composite Temperature, kelvin
  b[3] = 100; // Available Spare, percent
  b[4] = 10; // Available Spare Threshold
  b[5] = 0; // Percentage Used
  return b;
}

/** Firmware Slot Information (03h, 512 bytes): slot 1 active, its revision FRS1. */
export function firmwareSlotLog(fr: string): Buffer {
  const b = Buffer.alloc(512);
  b[0] = 0x01; // AFI: slot 1 active
  b.fill(0x20, 8, 16);
  b.write(fr.slice(0, 8), 8, 'latin1'); // FRS1
  return b;
}

/** Entries of the Changed Namespace List: past this many, the list is one FFFFFFFFh entry. */
export const CHANGED_NS_LIST_MAX = 1024;

/**
 * Changed Namespace List (04h, §5.16.1.5, 4096 bytes): the NSIDs whose attributes changed
 * since the host last read the page, ascending; when more than 1024 changed, the first
 * entry is FFFFFFFFh and the rest are zero.
 */
export function changedNamespaceListLog(nsids: ReadonlySet<number>): Buffer {
  const b = Buffer.alloc(4 * CHANGED_NS_LIST_MAX);
  if (nsids.size > CHANGED_NS_LIST_MAX) b.writeUInt32LE(0xffffffff, 0);
  else [...nsids].sort((x, y) => x - y).forEach((id, i) => b.writeUInt32LE(id, 4 * i));
  return b;
}

/** One Discovery Log Page Entry (1024 bytes, §5.16.1.23): a subsystem and where to reach it. */
export interface DiscoveryEntry {
  /** SUBTYPE: 2 an NVM subsystem, 3 the current discovery subsystem. */
  subtype: number;
  /** PORTID. */
  portid: number;
  /** TRADDR: the address as text (IPv4 or IPv6). */
  traddr: string;
  /** TRSVCID: the TCP port as text. */
  trsvcid: string;
  subnqn: string;
}

/**
 * The Discovery log page: the header (GENCTR, NUMREC, RECFMT 0) and 1024-byte entries:
 * TRTYPE 3 (TCP), ADRFAM 1 (IPv4) or 2 (IPv6), TREQ 10b (secure channel not required),
 * CNTLID FFFFh (the dynamic controller model), ASQSZ 32, TSAS SECTYPE 0 (no security).
 */
export function discoveryLog(entries: readonly DiscoveryEntry[], genctr: bigint): Buffer {
  const b = Buffer.alloc(1024 * (1 + entries.length));
  b.writeBigUInt64LE(genctr, 0); // GENCTR
  b.writeBigUInt64LE(BigInt(entries.length), 8); // NUMREC
  b.writeUInt16LE(0, 16); // RECFMT
  entries.forEach((e, i) => {
    const at = 1024 * (i + 1);
    b[at] = 3; // TRTYPE: TCP
    b[at + 1] = e.traddr.includes(':') ? 2 : 1; // ADRFAM
    b[at + 2] = e.subtype; // SUBTYPE
    b[at + 3] = 0x02; // TREQ
    b.writeUInt16LE(e.portid, at + 4); // PORTID
    b.writeUInt16LE(0xffff, at + 6); // CNTLID
    b.writeUInt16LE(32, at + 8); // ASQSZ
    b.write(e.trsvcid, at + 32, 32, 'latin1'); // TRSVCID (NUL-padded, as Linux's nvmet and libnvme read it)
    b.write(e.subnqn, at + 256, 256, 'utf8'); // SUBNQN
    b.write(e.traddr, at + 512, 256, 'latin1'); // TRADDR
    b[at + 768] = 0; // TSAS (TCP): SECTYPE none
  });
  return b;
}
