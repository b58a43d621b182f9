"""Fingerprint sets: they answer as a plain Python set would, in 6 bytes a room."""

import sys

from hypothesis import given
from hypothesis import strategies as st

from resumer.seen import BUCKET_BITS, Fingerprints, SeenRooms, fingerprint, tag

FP = st.integers(min_value=0, max_value=2**64 - 1)
# Few buckets and few distinct low bits, so collisions of buckets and partial byte matches
# across neighbouring items (the `find` off the 6-byte grid) are common, not a 2^-48 accident.
CRAMPED = st.builds(
    lambda bucket, low: (bucket << (64 - BUCKET_BITS)) | low,
    st.integers(min_value=0, max_value=3),
    st.sampled_from([0, 1, 0x0101, 0x010101, 0x0101010101, 0x010000000001, 0xFFFFFFFFFFFF]),
)
OPS = st.lists(st.tuples(st.sampled_from(["add", "discard", "contains"]), FP | CRAMPED))


@given(OPS)
def test_fingerprints_behave_as_a_set(ops: list[tuple[str, int]]) -> None:
    fingerprints, model = Fingerprints(), set[int]()
    for op, fp in ops:
        if op == "add":
            assert fingerprints.add(fp) == (fp not in model)
            model.add(fp)
        elif op == "discard":
            fingerprints.discard(fp)
            model.discard(fp)
        else:
            assert (fp in fingerprints) == (fp in model)
        assert len(fingerprints) == len(model)
    assert set(fingerprints) == model
    assert all(fp in fingerprints for fp in model)


def test_an_item_is_found_only_on_its_own_grid() -> None:
    # 01 00 00 00 00 00 | 00 00 00 00 00 01: bytes 5..10 read 00 00 00 00 00 00, which is the
    # item of fingerprint 0, off the grid: it must not count as there.
    fingerprints = Fingerprints()
    fingerprints.add(1)
    fingerprints.add(1 << 40)
    assert 0 not in fingerprints
    assert fingerprints.add(0)
    assert 0 in fingerprints
    assert len(fingerprints) == 3


KEYS: list[int | str] = [tag(7), tag(8), tag(None), tag(2**61), tag(7, "invalid")]
ROOMS = st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=6)), max_size=60)


@given(ROOMS, ROOMS)
def test_seen_rooms_behave_as_a_set_of_pairs(
    added: list[tuple[int | str, str]], later: list[tuple[int | str, str]]
) -> None:
    seen, model = SeenRooms(), set[tuple[int | str, str]]()
    for key, room_id in added:
        assert seen.add(key, room_id) == ((key, room_id) not in model)
        model.add((key, room_id))
    for key, room_id in later:
        assert seen.contains(key, room_id) == ((key, room_id) in model)
        seen.discard(key, room_id)
        model.discard((key, room_id))
        assert not seen.contains(key, room_id)
    assert len(seen) == len(model)


def test_the_same_room_of_two_tags_never_shares_a_fingerprint() -> None:
    # an app's tag is its sdkappid, which hashes to itself: distinct tags, distinct fingerprints
    apps = [1, 1400000001, 1400000002, sys.hash_info.modulus - 1]
    keys = [tag(a) for a in apps] + [tag(None), tag(sys.hash_info.modulus), tag(7, "invalid")]
    assert len(set(keys)) == len(keys)
    for room_id in ("", "a", "live_00000001"):
        prints = {fingerprint(key, room_id) for key in keys}
        assert len(prints) == len(keys)


def test_tags_keep_apps_kinds_and_odd_sdkappids_apart() -> None:
    assert tag(7) == 7
    assert tag(None) != tag(None, "invalid") != tag(7, "invalid")
    assert tag(2**61) == " 2305843009213693952"  # would hash as 1: a string tag instead
    assert tag(-1) != tag(-2)  # hash(-1) == hash(-2)


def test_a_million_rooms_fit_in_twelve_bytes_each() -> None:
    seen = SeenRooms()
    for n in range(1_000_000):
        seen.add(7, f"live_{n:08d}")
    assert len(seen) == 1_000_000  # no fingerprint collided (odds: 2.7e-8)
    buckets = seen._fingerprints._buckets  # the memory is the point
    stored = sum(len(b) for b in buckets if b is not None)
    assert stored == 6 * 1_000_000
    allocated = sum(sys.getsizeof(b) for b in buckets if b is not None) + sys.getsizeof(buckets)
    assert allocated / 1_000_000 < 12  # 6 stored, the rest buckets' headers and slack


def test_equal_sets_compare_equal() -> None:
    one, two = SeenRooms(), SeenRooms()
    assert one == two
    one.add(7, "a")
    assert one != two
    two.add(7, "a")
    assert one == two
