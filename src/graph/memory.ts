/**
 * Buffer reuse for transient slots (activations, gradients, scratch). A slot lives from its first
 * to its last use in each timeline it appears in (train iteration, eval pass); slots whose
 * lifetimes never overlap share a buffer. Greedy best-fit by decreasing size.
 */

export interface Interval {
  readonly first: number;
  readonly last: number;
}

export interface TransientRequest {
  readonly id: number;
  readonly bytes: number;
  /** Disjoint timelines are offset so that their indices never collide. */
  readonly intervals: readonly Interval[];
}

export interface MemoryPlan {
  /** Byte size of each planned buffer. */
  readonly bufferBytes: number[];
  /** Slot id → buffer index. */
  readonly assignment: Map<number, number>;
  /** Bytes if nothing were shared, for reporting the saving. */
  readonly unsharedBytes: number;
}

function overlaps(a: readonly Interval[], b: readonly Interval[]): boolean {
  for (const x of a) {
    for (const y of b) {
      if (x.first <= y.last && y.first <= x.last) return true;
    }
  }
  return false;
}

export function planMemory(requests: readonly TransientRequest[]): MemoryPlan {
  const order = [...requests].sort((a, b) => b.bytes - a.bytes || a.id - b.id);
  const buffers: { bytes: number; members: TransientRequest[] }[] = [];
  const assignment = new Map<number, number>();
  for (const request of order) {
    let chosen = -1;
    for (let i = 0; i < buffers.length; i++) {
      const buffer = buffers[i];
      if (buffer.bytes < request.bytes) continue;
      if (buffer.members.some((m) => overlaps(m.intervals, request.intervals))) continue;
      if (chosen < 0 || buffer.bytes < buffers[chosen].bytes) chosen = i;
    }
    if (chosen < 0) {
      chosen = buffers.length;
      buffers.push({ bytes: request.bytes, members: [] });
    }
    buffers[chosen].members.push(request);
    assignment.set(request.id, chosen);
  }
  return {
    bufferBytes: buffers.map((b) => b.bytes),
    assignment,
    unsharedBytes: requests.reduce((sum, r) => sum + r.bytes, 0),
  };
}
