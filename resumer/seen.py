"""A set of rooms kept as 64-bit fingerprints, pure: what the duplicate check and --resume remember.

Why not a Python set of room IDs: at 3M rooms it costs 121-135 B per room, and a set grows
by rehashing its whole table at once. A run's sets grow together (each app's rooms arrive
interleaved), so at 100 apps they all rehashed in one batch of input: a stall of the event
loop of tens to hundreds of ms, long enough to stamp requests late (bench scenario 10). Here
each room is 6 bytes in one of 65,536 small buckets (bytearrays), about 10 B per room at 3M
rooms with the buckets' headers and slack, and growing a bucket copies a few hundred bytes:
no step ever touches more than one bucket.

The fingerprint of (tag, room_id) is Python's own `hash` of the pair. On 64-bit CPython (as
sys.hash_info says: width 64, siphash13) a str's hash is SipHash-1-3 under a 128-bit key drawn
at random for each process (PEP 456), and a tuple's hash mixes its items' hashes with xxHash
rounds, each invertible in the item it adds. So two different room IDs get one fingerprint
only if their keyed hashes collide (2^-64 for a pair), and the same room ID under two tags
only if the tags' hashes are equal: never for two apps (see `tag`), 2^-64 for a string tag.
It is also the fastest keyed hash CPython has (the room ID's hash is cached on the string;
blake2b costs 20 times as much). The top 16 bits pick the bucket, the other 48 are stored.

A false "already seen" needs a room to share a fingerprint with another one: over n rooms the
odds are at most n^2/2^65 (the birthday bound), about 2.4e-7 for a run over 3M rooms, i.e. one
room wrongly dropped as a duplicate in some four million such runs. --resume's final rooms
are another set: a room taken for final by mistake has odds below q*f/2^64 for q rooms to do
and f final ones, at most n^2/2^66. The key is fresh in every process, so no input can be
built to collide, unless PYTHONHASHSEED fixes the key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

BUCKET_BITS = 16  # 65,536 buckets: at 3M rooms about 46 rooms (276 bytes) to scan per look-up
_ITEM = 6  # bytes stored per room: the 48 bits the bucket index does not already give
_SHIFT = 64 - BUCKET_BITS
_LOW = (1 << _SHIFT) - 1
_MASK = (1 << 64) - 1
_MODULUS = sys.hash_info.modulus  # a non-negative int below it hashes to itself


def tag(sdkappid: int | None, kind: str = "") -> int | str:
    """The tag that keeps rooms of different apps (and kinds) apart in one set.

    An app's rooms are tagged with its sdkappid itself: ints below the hash modulus hash to
    themselves, so two apps' tags never share a hash, and the same room ID of two apps never
    shares a fingerprint. Anything else (None, an absurd integer, another kind of entry) gets a
    string tag, which cannot be the same string as another one; its hash meets an app's only by
    the 2^-64 chance of any pair.
    """
    if not kind and sdkappid is not None and 0 <= sdkappid < _MODULUS:
        return sdkappid
    return f"{kind} {sdkappid!r}"


def fingerprint(key: int | str, room_id: str) -> int:
    """The room's 64-bit fingerprint under `key` (a `tag`), valid in this process only."""
    return hash((key, room_id)) & _MASK


class Fingerprints:
    """A set of 64-bit fingerprints in 65,536 buckets of 6-byte items, in no order.

    A bucket is a bytearray searched with `find` (C, a few hundred bytes) and appended to;
    bytearrays grow by about an eighth at a time. A removed item is overwritten by the bucket's
    last one. Buckets are made on first use, so an empty set is one list of 65,536 Nones.
    """

    __slots__ = ("_buckets", "_count")

    def __init__(self) -> None:
        self._buckets: list[bytearray | None] = [None] * (1 << BUCKET_BITS)
        self._count = 0

    def add(self, fp: int) -> bool:
        """Add a fingerprint; True if it was not there yet."""
        index, item = fp >> _SHIFT, (fp & _LOW).to_bytes(_ITEM, "little")
        bucket = self._buckets[index]
        if bucket is None:
            self._buckets[index] = bytearray(item)
        elif _find(bucket, item) >= 0:
            return False
        else:
            bucket += item
        self._count += 1
        return True

    def __contains__(self, fp: object) -> bool:
        if type(fp) is not int:
            return False
        bucket = self._buckets[fp >> _SHIFT]
        return bucket is not None and _find(bucket, (fp & _LOW).to_bytes(_ITEM, "little")) >= 0

    def discard(self, fp: int) -> None:
        """Remove a fingerprint if it is there."""
        bucket = self._buckets[fp >> _SHIFT]
        if bucket is None:
            return
        at = _find(bucket, (fp & _LOW).to_bytes(_ITEM, "little"))
        if at < 0:
            return
        bucket[at : at + _ITEM] = bucket[-_ITEM:]  # the last item fills the hole
        del bucket[-_ITEM:]
        self._count -= 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for index, bucket in enumerate(self._buckets):
            if bucket:
                high = index << _SHIFT
                for at in range(0, len(bucket), _ITEM):
                    yield high | int.from_bytes(bucket[at : at + _ITEM], "little")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprints):
            return NotImplemented
        return self._count == other._count and set(self) == set(other)  # tests only

    __hash__ = None  # type: ignore[assignment]  # mutable


def _find(bucket: bytearray, item: bytes) -> int:
    """The offset of `item` in `bucket` on an item boundary, or -1.

    `find` may also match across two neighbouring items (the end of one and the start of the
    next): such a hit is off the 6-byte grid and the search goes on after it.
    """
    at = bucket.find(item)
    while at > 0 and at % _ITEM:
        at = bucket.find(item, at + 1)
    return at


class SeenRooms:
    """Rooms as (tag, room_id) pairs in one `Fingerprints`: one structure for every app."""

    __slots__ = ("_fingerprints",)

    def __init__(self) -> None:
        self._fingerprints = Fingerprints()

    def add(self, key: int | str, room_id: str) -> bool:
        """Remember a room; True if it was not remembered yet (false "seen": see the module)."""
        return self._fingerprints.add(hash((key, room_id)) & _MASK)  # fingerprint(), inlined

    def contains(self, key: int | str, room_id: str) -> bool:
        """True if the room was remembered (or, with probability n^2/2^65 in all, collides)."""
        return (hash((key, room_id)) & _MASK) in self._fingerprints  # fingerprint(), inlined

    def discard(self, key: int | str, room_id: str) -> None:
        """Forget a room, if remembered."""
        self._fingerprints.discard(fingerprint(key, room_id))

    def __len__(self) -> int:
        return len(self._fingerprints)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeenRooms):
            return NotImplemented
        return self._fingerprints == other._fingerprints

    __hash__ = None  # type: ignore[assignment]  # mutable
