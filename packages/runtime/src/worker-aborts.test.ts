// The worker's side of an abort, with a ring and a per-CID table as the queue pair has
// them (a LIFO free list of CIDs, a state and a tag per CID), and a port that records
// what goes to the main thread. Pure logic: no device.

import { describe, expect, it } from 'vitest';
import type { MessagePort } from 'node:worker_threads';
import { RequestState, type QueuePair } from '@vfio-node/nvme';
import { OP_CANCELLED, REQ_WIDTH } from './protocol.js';
import { Ring } from './ring.js';
import { WorkerAborts } from './worker-aborts.js';

function setup(count = 4) {
  const free: number[] = [];
  for (let i = count - 1; i >= 0; i--) free.push(i);
  const ids = {
    count,
    acquire: () => (free.length ? free.pop()! : -1),
    release: (cid: number) => void free.push(cid),
    get available() { return free.length; },
  };
  const requests = { ids, state: new Uint8Array(count), tags: new Float64Array(count) };
  const qp = { qid: 5, requests } as unknown as QueuePair;
  /** Submits (as QueuePair.claim does): a CID from the free list, Outstanding, with tag. */
  const submit = (tag: number) => {
    const cid = ids.acquire();
    requests.state[cid] = RequestState.Outstanding;
    requests.tags[cid] = tag;
    return cid;
  };
  /** Completes (as QueuePair.poll does): Free, back on the list, then the handler. */
  const complete = (cid: number) => {
    requests.state[cid] = RequestState.Free;
    ids.release(cid);
    aborts.completed(cid);
  };
  const req = Ring.create(8, REQ_WIDTH);
  const sent: unknown[] = [];
  const port = { postMessage: (m: unknown) => sent.push(m) } as unknown as MessagePort;
  const aborts = new WorkerAborts(qp, req, port);
  return { aborts, req, sent, submit, complete, requests, free };
}

describe('WorkerAborts', () => {
  it('marks the aborted request\'s records still in the request ring cancelled, and no other', () => {
    const { aborts, req, sent } = setup();
    for (const tag of [7, 8, 7]) req.push([2, 1, 0, 1, 4096, 512, tag, 0]);
    aborts.abort(7);
    const ops = [0, 1, 2].map((k) => req.data[req.peek(k)]);
    expect(ops).toEqual([OP_CANCELLED, 2, OP_CANCELLED]);
    expect(sent).toEqual([]); // nothing of tag 7 on the controller
  });

  it('reports the CIDs the request holds on the controller, with the SQ id', () => {
    const { aborts, sent, submit } = setup();
    const a = submit(7);
    submit(8);
    const c = submit(7);
    aborts.abort(7);
    expect(sent).toEqual([{ type: 'inflight', tag: 7, sqid: 5, cids: [a, c].sort((x, y) => x - y) }]);
  });

  it('keeps a reported CID out of use from its completion until its Abort is answered', () => {
    const { aborts, submit, complete, requests, free } = setup();
    const cid = submit(7);
    aborts.abort(7);
    expect(aborts.active).toBe(true);
    complete(cid);
    // Taken back at once, Abandoned: the next command gets another CID.
    expect(requests.state[cid]).toBe(RequestState.Abandoned);
    expect(free).not.toContain(cid);
    expect(aborts.active).toBe(false);
    aborts.answered(cid);
    expect(requests.state[cid]).toBe(RequestState.Free);
    expect(free).toContain(cid);
    // Answered twice (or late): nothing more is released.
    const before = free.length;
    aborts.answered(cid);
    expect(free.length).toBe(before);
  });

  it('an Abort answered before the command completes leaves the completion alone', () => {
    const { aborts, submit, complete, requests, free } = setup();
    const cid = submit(7);
    aborts.abort(7);
    aborts.answered(cid);
    complete(cid);
    expect(requests.state[cid]).toBe(RequestState.Free);
    expect(free).toContain(cid);
  });

  it('a controller reset frees a held CID itself: answered() then releases nothing twice', () => {
    const { aborts, submit, complete, requests, free } = setup();
    const cid = submit(7);
    aborts.abort(7);
    complete(cid);
    // QueuePair.reset: an Abandoned CID becomes Free and goes back on the list.
    requests.state[cid] = RequestState.Free;
    free.push(cid);
    aborts.answered(cid);
    expect(free.filter((c) => c === cid)).toHaveLength(1);
  });

  it('a CID failed by a reset is no longer reported', () => {
    const { aborts, submit } = setup();
    const cid = submit(7);
    aborts.abort(7);
    aborts.failed(cid);
    expect(aborts.active).toBe(false);
  });
});
