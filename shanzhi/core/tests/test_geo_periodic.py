from shanzhi.core.geo import contains

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                                              [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]]}


def test_point_in_polygon_with_hole():
    assert contains(SQUARE, lat=1, lng=1)
    assert not contains(SQUARE, lat=5, lng=5)  # in the hole
    assert not contains(SQUARE, lat=11, lng=1)
    assert contains({"type": "Feature", "geometry": SQUARE}, lat=9, lng=9)
    assert contains({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}, lat=2, lng=8)
    assert not contains({"type": "Polygon", "coordinates": "garbage"}, lat=1, lng=1)
    assert not contains(None, lat=1, lng=1)


def test_periodic_steps_run_when_due():
    import datetime as dt

    from shanzhi.core import periodic

    calls: list[str] = []
    clock = [100.0]
    periodic.register("test.step", lambda now: calls.append("ran"), every=5)
    try:
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        periodic.run_due(now, clock=lambda: clock[0])
        periodic.run_due(now, clock=lambda: clock[0] + 1)
        clock[0] += 6
        periodic.run_due(now, clock=lambda: clock[0])
        assert calls == ["ran", "ran"]
    finally:
        periodic._steps.pop("test.step")
