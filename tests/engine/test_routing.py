"""Routing: each entry's app and fate, decided without sending anything."""

from resumer.engine.routing import Decision, Route, Router
from resumer.records import InvalidRoom, Room


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


def test_the_same_invalid_line_twice_is_recorded_once() -> None:
    router = Router([7, 8])
    empty = InvalidRoom(room_id="", reason="room ID is empty", sdkappid=7)
    orphan = Room(room_id="a")  # several apps: no app to pick
    routes = [router.route(e).route for e in (empty, orphan, empty, orphan)]
    assert routes == [Route.INVALID, Route.INVALID, Route.DUPLICATE, Route.DUPLICATE]
    other_app = InvalidRoom(room_id="", reason="room ID is empty", sdkappid=8)
    assert router.route(other_app).route is Route.INVALID


def test_an_invalid_line_final_in_the_log_is_skipped_under_the_sdkappid_it_was_recorded_with() -> (
    None
):
    final = {(7, "null"), (None, "orphan"), (9, "stranger")}
    router = Router([7, 8], skip=lambda sdkappid, room: (sdkappid, room) in final)
    null = InvalidRoom(room_id="null", reason="room ID is not a string (got null)", sdkappid=7)
    assert router.route(null) == Decision(Route.SKIPPED, 7)
    assert router.route(Room(room_id="orphan")) == Decision(Route.SKIPPED, None)
    assert router.route(Room(room_id="stranger", sdkappid=9)) == Decision(Route.SKIPPED, 9)
    assert router.route(InvalidRoom(room_id="new", reason="r", sdkappid=7)).route is Route.INVALID


def test_an_invalid_line_never_hides_a_room_of_the_same_text() -> None:
    router = Router([7])
    assert router.route(InvalidRoom(room_id="a", reason="recorded invalid before")).route is (
        Route.INVALID
    )
    assert router.route(Room(room_id="a")).route is Route.SEND
