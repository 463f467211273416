import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CSTS, NvmeController, Register, getField, shadowSlots, sqTailDoorbell } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

// CSTS.CFS provoked honestly: a submission queue at an IOVA the IOMMU does not map. When
// its doorbell is rung, QEMU's controller fails to fetch the entry (a DMA fault through
// the emulated IOMMU) and reports Controller Fatal Status. The watchdog must notice,
// reset the controller, and leave it working.
const UNMAPPED_IOVA = 0x7f_0000_0000; // below the vIOMMU's 39-bit limit, far above what the allocator hands out

describe('a controller fatal status (CSTS.CFS) caused by a DMA fault is seen by the watchdog, which resets the controller back to work', () => {
  it('resets after CFS, in-flight I/O fails with ERR_NVME_CONTROLLER_FATAL or completes, and I/O works after', async () => {
    const ctrl = await NvmeController.open(labNvme()[0]!, { maxIoQueues: 2 });
    const ns = ctrl.namespace(1);
    const a = ctrl.allocBuffer(64 * 1024);
    const b = ctrl.allocBuffer(64 * 1024);
    try {
      const qid = ctrl.reserveQueueId();
      await ctrl.createExternalQueuePair(qid, 16, UNMAPPED_IOVA, UNMAPPED_IOVA + 0x10000);
      expect(getField(ctrl.bar.read32(Register.CSTS), CSTS.CFS)).toBe(0);

      const resetErrors: string[] = [];
      ctrl.onReset(({ error }) => {
        resetErrors.push((error as { code?: string }).code ?? String(error));
      });
      // Reads keep running on queue 1 while the fault happens (a failure other than the
      // reset's ends the loop, so that it cannot spin on a closed controller).
      const codes: Record<string, number> = {};
      let stop = false;
      const loop = (async () => {
        while (!stop) {
          try {
            await ns.read(0, 128, b.bytes);
            codes.ok = (codes.ok ?? 0) + 1;
          } catch (e) {
            const code = (e as { code?: string }).code ?? String(e);
            codes[code] = (codes[code] ?? 0) + 1;
            if (code !== 'ERR_NVME_CONTROLLER_FATAL') break;
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      // One entry "posted" on the bad queue: the controller tries to fetch it from an unmapped IOVA.
      // With shadow doorbells the controller reads the tail from the shadow buffer (the register
      // write only wakes it), so the tail goes there first, as a driver's does.
      const shadow = ctrl.shadowDoorbells;
      expect(shadow).not.toBeNull();
      const words = new Uint32Array(shadow!.memory.bytes.buffer, shadow!.memory.bytes.byteOffset, shadow!.memory.bytes.byteLength / 4);
      words[shadowSlots(qid, ctrl.cap.dstrd, shadow!.eventIdx).sqTail] = 1;
      ctrl.bar.write32(sqTailDoorbell(qid, ctrl.cap.dstrd), 1);
      const t0 = Date.now();
      while (resetErrors.length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
      stop = true;
      // The watchdog saw CSTS.CFS and reset the controller for it.
      expect(resetErrors).toEqual(['ERR_NVME_CONTROLLER_FATAL']);
      expect(ctrl.resets).toBe(1);
      await loop;
      console.log(`reads during the fault: ${JSON.stringify(codes)}`);
      expect(Object.keys(codes).filter((c) => c !== 'ok' && c !== 'ERR_NVME_CONTROLLER_FATAL')).toEqual([]);
      expect(codes.ok).toBeGreaterThan(0);
      expect(getField(ctrl.bar.read32(Register.CSTS), CSTS.CFS)).toBe(0);
      expect(ctrl.resets).toBe(1);

      await ctrl.deleteExternalQueuePair(qid);
      expect(getField(ctrl.bar.read32(Register.CSTS), CSTS.RDY)).toBe(1);
      randomFillSync(a.bytes);
      await ns.write(60_000, 128, a.bytes);
      await ns.read(60_000, 128, b.bytes);
      expect(Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes))).toBe(0);
    } finally {
      await ctrl.close();
      a.release();
      b.release();
    }
  });
});
