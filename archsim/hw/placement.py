"""Where each tensor of a training step lives between ops: on chip in a bank, or in DRAM.

A trace names tensors per layer (``conv1.z`` is written, ``pool1.x`` read), so the first step
links names: a read of a name written earlier in the step is that tensor; a read of a new name
is the most recent tensor written in the step with the same element count and width that no
op has read yet (the layer's input is the previous layer's output); anything else comes from
outside the step (the batch, the stored weights) and starts in DRAM.

Then, op by op (:class:`Placement`): a written tensor that a later op reads stays on chip in its
home bank when it fits beside the op's working set and the tensors already kept; otherwise it
goes to DRAM. When space runs out, the kept tensor needed farthest in the future leaves first
(Belady's rule); if it was produced on chip and is still needed it is written to DRAM once (a
stash) and read back once by its next reader. A tensor read from DRAM that is read again later
is kept on chip when it fits. Tensors leave the chip after their last read. State that outlives
the step (the stored weights) stays on chip into the next step when it fits there for the whole
step (:meth:`Placement.settle`); otherwise the update writes it to DRAM and the next step reads it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..trace import Op, TensorAccess


def tensor_links(ops: list[Op]) -> list[tuple[list[str], list[str]]]:
    """Per op, the step-wide identity of each tensor it reads and writes (see the module note)."""
    written: dict[str, tuple[int, int]] = {}    # identity → (elements, bits)
    alias: dict[str, str] = {}
    unread: list[str] = []                      # fresh identities written and not read yet, in write order
    read_before: set[str] = set()
    out = []
    for op in ops:
        reads: list[str | None] = [None] * len(op.reads)
        # names written before (or already linked) first, so they are not taken by another read
        for j, t in enumerate(op.reads):
            if t.tensor in written or t.tensor in alias:
                reads[j] = alias.get(t.tensor, t.tensor)
                if reads[j] in unread:
                    unread.remove(reads[j])
        for j, t in enumerate(op.reads):
            if reads[j] is None:
                match = next((u for u in reversed(unread) if written[u] == (t.elements, t.bits)), None)
                reads[j] = match if match is not None else t.tensor
                alias[t.tensor] = reads[j]   # an outside tensor keeps its own name
                if match is not None:
                    unread.remove(match)
        read_before.update(r for r in reads if r is not None)
        writes = []
        for t in op.writes:
            identity = alias.get(t.tensor, t.tensor)
            fresh = identity not in written and identity not in read_before   # not state being rewritten
            written[identity] = (t.elements, t.bits)
            if identity in unread:
                unread.remove(identity)
            if fresh:
                unread.append(identity)
            writes.append(identity)
        out.append(([r for r in reads if r is not None], writes))
    return out


def _bytes(t: TensorAccess) -> int:
    return -(-t.size_bits // 8)


@dataclass
class OpPlacement:
    """Where one op finds its inputs and leaves its outputs, and the stashes it causes."""

    reads_on_chip: dict[str, str] = field(default_factory=dict)   # identity → the bank holding it
    writes_on_chip: set[str] = field(default_factory=set)
    stash_bytes: dict[str, int] = field(default_factory=dict)   # bank name → bytes written to DRAM to make room
    kept_bytes: dict[str, int] = field(default_factory=dict)    # bank name → bytes kept while the op runs


class Placement:
    """The on-chip tensors of one step, op by op, in the steady state of training.

    Tensors that are state across steps (read in the step before it writes them: the stored
    weights) may stay on chip from one step to the next: the step starts with those that fit in
    their home bank (the bank of the op that writes them), dirty, and :meth:`settle` repeats the
    placement, dropping from that start every state tensor that did not end the step on chip,
    until start and end agree. Their next use after the step is their first read in the next one."""

    def __init__(self, ops: list[Op], capacity_bytes: dict[str, int]) -> None:
        self.ops = ops
        self.links = tensor_links(ops)
        self.capacity = capacity_bytes
        self.uses: dict[str, list[int]] = defaultdict(list)
        first_write: dict[str, int] = {}
        self.last_write: dict[str, int] = {}
        for i, (reads, writes) in enumerate(self.links):
            for r in reads:
                self.uses[r].append(i)
            for w in writes:
                first_write.setdefault(w, i)
                self.last_write[w] = i
        self.state = {t: first_write[t] for t, u in self.uses.items() if t in first_write and u[0] < first_write[t]}
        self.kept: dict[str, tuple[str, int, bool]] = {}   # identity → (bank, bytes, dirty)
        self.start: set[str] = set()                       # state on chip when a step starts (settled)

    def settle(self, home: list[str], working: list[dict[str, int]], fused: dict[int, tuple[Op, ...]],
               skip: set[int]) -> dict[int, OpPlacement]:
        """The placement of every op not in ``skip`` (ops done on a write-back), given each op's home
        bank and working set, in the steady state (see the class note)."""
        sizes = {}
        for op, (reads, writes) in zip(self.ops, self.links):
            for t, identity in zip(op.reads + op.writes, reads + writes):
                sizes[identity] = _bytes(t)
        start = set()
        for t in sorted(self.state, key=lambda t: self.uses[t][0]):
            bank = home[self.state[t]]
            if sum(sizes[u] for u in start if home[self.state[u]] == bank) + sizes[t] <= self.capacity[bank]:
                start.add(t)
        while True:
            self.kept = {t: (home[self.state[t]], sizes[t], True) for t in start}
            placed = {i: self.step(i, home[i], working[i], fused.get(i, ())) for i in range(len(self.ops))
                      if i not in skip}
            ended = {t for t in start if t in self.kept}
            if ended == start:
                self.start = start
                # state that ends on chip without having started there must reach DRAM for the next
                # step, which starts without it: its last update writes it through
                for t in self.state:
                    if t in self.kept and t not in start:
                        placed[self.last_write[t]].writes_on_chip.discard(t)
                return placed
            start = ended

    def _next_use(self, identity: str, after: int) -> int | None:
        use = next((u for u in self.uses[identity] if u > after), None)
        if use is None and identity in self.state:
            return len(self.ops) + self.uses[identity][0]   # read again in the next step
        return use

    def _free(self, bank: str, working: dict[str, int]) -> int:
        return self.capacity[bank] - working.get(bank, 0) - sum(b for k, (bk, b, _) in self.kept.items() if bk == bank)

    def _make_room(self, i: int, bank: str, need: int, working: dict[str, int], keep: set[str],
                   limit: int | None, placed: OpPlacement, partial: bool = False) -> bool:
        """Evict from ``bank`` (farthest next use first, never ``keep``, only tensors needed later
        than ``limit``) until ``need`` bytes are free; False (and nothing evicted) when impossible,
        unless ``partial``, which evicts what it can."""
        candidates = sorted(((self._next_use(k, i) or 1 << 60, k) for k, (bk, _, _) in self.kept.items()
                             if bk == bank and k not in keep), reverse=True)
        free, chosen = self._free(bank, working), []
        for next_use, k in candidates:
            if free >= need:
                break
            if limit is not None and next_use <= limit:
                break
            chosen.append(k)
            free += self.kept[k][1]
        if free < need and not partial:
            return False
        for k in chosen:
            self._evict(k, i, placed)
        return free >= need

    def _evict(self, identity: str, i: int, placed: OpPlacement, needed_now: bool = False) -> None:
        """Drop a kept tensor; one produced on chip that is still needed (or read by op ``i`` itself)
        is stashed to DRAM first."""
        bank, size, dirty = self.kept.pop(identity)
        if dirty and (needed_now or self._next_use(identity, i) is not None):
            placed.stash_bytes[bank] = placed.stash_bytes.get(bank, 0) + size

    def step(self, i: int, home: str, working: dict[str, int], fused: tuple[Op, ...] = ()) -> OpPlacement:
        """Place op ``i``: which reads are on chip, which writes stay, what must be stashed first.
        ``fused``: the ops applied on this GEMM's write-back (the last one's result is what is written)."""
        op = self.ops[i]
        reads, writes = self.links[i]
        placed = OpPlacement()
        placed.reads_on_chip = {r: self.kept[r][0] for r in reads if r in self.kept}
        # the op's working set must fit beside what stays kept: others leave first, then the op's own
        # operands (which it then reads from DRAM, stashed first if they exist only on chip)
        for bank in self.capacity:
            if self._free(bank, working) < 0:
                self._make_room(i, bank, 0, working, set(placed.reads_on_chip), None, placed, partial=True)
            for identity in sorted((k for k, b in placed.reads_on_chip.items() if b == bank),
                                   key=lambda k: -self.kept[k][1]):
                if self._free(bank, working) >= 0:
                    break
                self._evict(identity, i, placed, needed_now=True)
                del placed.reads_on_chip[identity]
        out_tensors = list(fused[-1].writes) if fused else list(op.writes)
        last = i + len(fused)
        out_ids = self.links[last][1]
        for t, identity in zip(out_tensors, out_ids):
            next_use = self._next_use(identity, last)
            self.kept.pop(identity, None)   # rewritten in place (an update)
            if next_use is None:
                continue                    # not read again: to DRAM
            if self._make_room(i, home, _bytes(t), working, set(placed.reads_on_chip), next_use, placed):
                self.kept[identity] = (home, _bytes(t), True)
                placed.writes_on_chip.add(identity)
        placed.kept_bytes = {b: sum(size for bk, size, _ in self.kept.values() if bk == b) for b in self.capacity}
        # reads from DRAM that are read again later stay when they fit
        for t, identity in zip(op.reads, reads):
            if identity in self.kept or identity in placed.reads_on_chip:
                continue
            next_use = self._next_use(identity, last)
            if next_use is not None and self._make_room(i, home, _bytes(t), working, set(placed.reads_on_chip),
                                                        next_use, placed):
                self.kept[identity] = (home, _bytes(t), False)
        for identity in list(self.kept):
            if self._next_use(identity, last) is None:
                del self.kept[identity]
        return placed
