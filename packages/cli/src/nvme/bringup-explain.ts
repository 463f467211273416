// What `vfio-node nvme bringup --explain` prints for each step of the bring-up: the step's
// number and what NVM Express Base Specification 2.0 §3.5.1 asks of the host there (in our
// words), then what the driver wrote and what the controller answered (the driver's
// observer, drivers/nvme/src/bringup.ts, hands over both, decoded).

import type { BringupStep } from '@vfio-node/nvme';

/** What the specification asks of the host at each step of §3.5.1 (0: before step 1). */
export const STEP_TEXT: Readonly<Record<number, string>> = {
  0: 'before step 1: read the controller\'s capabilities (CAP, §3.1.3.1) and version (VS, §3.1.3.2): queue sizes, doorbell stride, how long it may take to become ready, command sets, page sizes',
  1: 'wait for CSTS.RDY to become 0 after clearing CC.EN, so that any earlier reset is over (a controller left enabled is reset by CC.EN 1 → 0, §3.7.2)',
  2: 'set up the admin queue: its two sizes in AQA, the base addresses of the admin submission and completion queues in ASQ and ACQ',
  3: 'choose the I/O command set in CC.CSS among those CAP.CSS offers',
  4: 'configure the controller: arbitration in CC.AMS, memory page size in CC.MPS (this driver also sets the I/O queue entry sizes CC.IOSQES and CC.IOCQES now: creating I/O queues needs them, §3.1.3.5)',
  5: 'enable the controller: CC.EN = 1',
  6: 'wait for CSTS.RDY = 1, within CAP.TO × 500 ms: the controller now takes admin commands',
  7: 'find out what the controller is: Identify with CNS 01h, the Identify Controller data structure',
  8: 'find out how the command set is configured: the active namespaces and the Identify data of each',
  9: 'ask for I/O queues with Set Features, Number of Queues (the controller may grant fewer), then set up the interrupt registers (MSI-X)',
  10: 'create the I/O completion queues (Create I/O Completion Queue, §5.4)',
  11: 'create the I/O submission queues, each bound to a completion queue (Create I/O Submission Queue, §5.5)',
  12: 'to hear of asynchronous events: enable them with Set Features and keep Asynchronous Event Request commands outstanding',
};

/** The heading line of a step: `§3.5.1 step 1: wait for CSTS.RDY ...` (Base 2.0). */
export function stepHeading(step: BringupStep): string {
  if (step.extra) return `after §3.5.1 step ${step.step}, not a step of the specification: ${step.extra}`;
  if (step.step === 0) return `§3.5.1, ${STEP_TEXT[0]}`;
  return `§3.5.1 step ${step.step}: ${STEP_TEXT[step.step] ?? '(not a step of §3.5.1)'}`;
}

/** A step as --explain prints it: the heading, then `  driver wrote:` and `  controller:` lines. */
export function formatStep(step: BringupStep): string {
  const lines = [stepHeading(step)];
  for (const w of step.wrote) lines.push(`  driver wrote:  ${w}`);
  for (const a of step.answered) lines.push(`  controller:    ${a}`);
  if (step.wrote.length === 0 && step.answered.length === 0) lines.push('  (nothing to show)');
  return lines.join('\n');
}

/** The --step prompt after a step. */
export function stepPrompt(step: BringupStep): string {
  return `-- step ${step.step}${step.extra ? '+' : ''} done; press Enter to go on --`;
}
