"""The vote journal on disk: every vote this node's key signs, appended (and flushed to the OS) before the vote
leaves the node, so that a restarted node refuses a second vote for a target it already voted for, or a vote that
surrounds one it made (BSC keeps the same write-ahead log, core/vote/vote_journal.go).

The file `DATADIR/vote.journal` is a sequence of RLP VoteData records, oldest first; a torn last record (the process
died while writing it, so that vote never left) is ignored at load. Once it holds twice the journal's capacity it is
rewritten with the newest entries (a new file renamed over the old one).
"""
from __future__ import annotations

import os
from pathlib import Path

import rlp
from rlp.sedes import CountableList

from consensus.votes import JOURNAL_CAPACITY, VOTE_DATA_SEDES, VoteData, VoteJournal

JOURNAL_FILE = "vote.journal"


def _records(raw: bytes) -> list[VoteData]:
    """The complete records of a journal file, in order; decoding stops at a torn or corrupt tail."""
    found, offset = [], 0
    while offset < len(raw):
        try:
            _, _, end = rlp.codec.consume_item(raw, offset)
            found.append(VoteData(*rlp.decode(raw[offset:end], sedes=VOTE_DATA_SEDES)))
        except (rlp.RLPException, IndexError, ValueError, TypeError):
            break
        offset = end
    return found


class PersistentJournal:
    """A VoteJournal whose every entry is on disk before `record` returns."""

    def __init__(self, path: Path, capacity: int = JOURNAL_CAPACITY, fsync: bool = True):
        """`fsync`: also wait for the disk (a power loss then cannot lose a vote either); without it a killed
        process still loses nothing, the OS holds the bytes."""
        self.path = Path(path)
        self.fsync = fsync
        self.capacity = capacity
        raw = self.path.read_bytes() if self.path.exists() else b""
        entries = _records(raw)
        self.journal = VoteJournal(capacity, entries)
        self._written = len(entries)
        if sum(len(e.encode()) for e in entries) != len(raw):   # a torn tail: cut it off before appending
            self._rewrite()

    def check(self, vote: VoteData) -> None:
        """Raise DoubleVote or SurroundVote when `vote` breaks BSC's rules against the journal."""
        self.journal.check(vote)

    def record(self, vote: VoteData) -> None:
        """Check `vote` against the journal, then write it; only then may it be signed and sent."""
        self.journal.record(vote)
        with open(self.path, "ab") as f:
            f.write(vote.encode())
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        self._written += 1
        if self._written >= 2 * self.capacity:
            self._rewrite()

    def _rewrite(self) -> None:
        """Replace the file by the journal's entries (oldest first), atomically."""
        entries = rlp.decode(self.journal.encode(), sedes=CountableList(VOTE_DATA_SEDES))   # oldest first
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for item in entries:
                f.write(VoteData(*item).encode())
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._written = len(self.journal)

    def latest(self) -> VoteData | None:
        return self.journal.latest()

    def __len__(self) -> int:
        return len(self.journal)
