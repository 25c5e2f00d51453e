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
