"""Routing: each entry's app and fate, decided without sending anything."""

from resumer.records import InvalidRoom, Room
from resumer.routing import Route, Router


def test_a_plain_line_belongs_to_the_only_app() -> None:
    router = Router([7])
    decision = router.route(Room(room_id="a"))
    assert (decision.route, decision.sdkappid) == (Route.SEND, 7)


def test_the_same_room_twice_is_a_duplicate_but_not_across_apps() -> None:
    router = Router([7, 8])
    routes = [
        router.route(Room(room_id="a", sdkappid=7)).route,
        router.route(Room(room_id="a", sdkappid=7)).route,
        router.route(Room(room_id="a", sdkappid=8)).route,
    ]
    assert routes == [Route.SEND, Route.DUPLICATE, Route.SEND]


def test_rooms_already_final_are_skipped() -> None:
    router = Router([7], skip=lambda sdkappid, room: (sdkappid, room) == (7, "done"))
    assert router.route(Room(room_id="done")).route is Route.SKIPPED
    assert router.route(Room(room_id="todo")).route is Route.SEND


def test_entries_with_no_configured_app_are_invalid_with_a_reason() -> None:
    router = Router([7, 8])
    plain = router.route(Room(room_id="a"))
    stranger = router.route(Room(room_id="a", sdkappid=9))
    assert (plain.route, plain.sdkappid) == (Route.INVALID, None)
    assert "several apps" in plain.reason
    assert (stranger.route, stranger.sdkappid) == (Route.INVALID, 9)
    assert "not one of the configured apps" in stranger.reason


def test_an_invalid_line_keeps_its_own_reason() -> None:
    decision = Router([7]).route(InvalidRoom(room_id="x" * 60, reason="too long"))
    assert (decision.route, decision.sdkappid, decision.reason) == (Route.INVALID, 7, "too long")
