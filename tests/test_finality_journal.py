"""The vote journal on disk (node/finality/journal.py) and the vote key file: a reloaded journal refuses a double or
surround vote; a torn last record (the process died while writing it, so that vote never left) is dropped; the file
is compacted to the newest entries; a vote key file that is not a key is refused with its path named."""
import pytest

from consensus import bls
from consensus.errors import DoubleVote, SurroundVote
from consensus.votes import VoteData, vote_key_for
from node.finality.journal import JOURNAL_FILE, PersistentJournal
from node.finality.keys import VOTE_KEY_FILE, VoteKeyError, load_vote_key, write_vote_key


def vote(source: int, target: int, tag: bytes = b"\x02") -> VoteData:
    return VoteData(source, bytes([source % 256]) * 32, target, tag * 32)


def test_a_reloaded_journal_refuses_a_double_and_a_surround_vote(tmp_path):
    path = tmp_path / JOURNAL_FILE
    journal = PersistentJournal(path, fsync=False)
    for target in range(5, 10):
        journal.record(vote(target - 1, target))
    again = PersistentJournal(path)
    assert len(again) == 5 and again.latest() == vote(8, 9)
    with pytest.raises(DoubleVote):
        again.record(vote(7, 9, b"\x03"))       # another block at height 9
    with pytest.raises(SurroundVote):
        again.record(vote(2, 11))               # 2 -> 11 surrounds 8 -> 9
    again.record(vote(9, 10))
    assert PersistentJournal(path).latest() == vote(9, 10)


def test_a_torn_last_record_is_dropped_and_the_file_cut_before_appending(tmp_path):
    path = tmp_path / JOURNAL_FILE
    journal = PersistentJournal(path, fsync=False)
    journal.record(vote(1, 2))
    journal.record(vote(2, 3))
    whole = path.read_bytes()
    path.write_bytes(whole + vote(3, 4).encode()[:20])   # died while writing the third: it never left
    reloaded = PersistentJournal(path, fsync=False)
    assert reloaded.latest() == vote(2, 3) and path.read_bytes() == whole
    reloaded.record(vote(3, 4))   # the vote it never sent may be made now
    assert PersistentJournal(path).latest() == vote(3, 4)


def test_the_file_is_compacted_to_the_newest_entries(tmp_path):
    path = tmp_path / JOURNAL_FILE
    journal = PersistentJournal(path, capacity=4, fsync=False)
    for target in range(1, 12):
        journal.record(vote(target - 1, target))
    entry = len(vote(0, 1).encode())
    assert path.stat().st_size < 8 * entry   # rewritten at 8 records, then appended to
    reloaded = PersistentJournal(path, capacity=4)
    assert len(reloaded) == 4 and reloaded.latest() == vote(10, 11)


def test_vote_key_file_round_trip_and_a_bad_one(tmp_path):
    secret = vote_key_for(b"\x07" * 32)
    write_vote_key(tmp_path, secret)
    assert load_vote_key(tmp_path) == secret
    assert bls.public_key(load_vote_key(tmp_path)) == bls.public_key(secret)
    assert (tmp_path / VOTE_KEY_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / VOTE_KEY_FILE).write_text("0x1234\n")
    with pytest.raises(VoteKeyError, match=VOTE_KEY_FILE):
        load_vote_key(tmp_path)
    assert load_vote_key(tmp_path / "elsewhere") is None
