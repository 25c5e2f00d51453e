"""Small geometry on GeoJSON (no GIS dependency): point-in-polygon and bounding boxes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Ring = Sequence[Sequence[float]]


def _in_ring(lng: float, lat: float, ring: Ring) -> bool:
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / ((yj - yi) or 1e-300) + xi:
            inside = not inside
        j = i
    return inside


def _in_polygon(lng: float, lat: float, rings: Sequence[Ring]) -> bool:
    if not rings or not _in_ring(lng, lat, rings[0]):
        return False
    return not any(_in_ring(lng, lat, hole) for hole in rings[1:])


def contains(geometry: dict[str, Any] | None, lat: float, lng: float) -> bool:
    """Whether a GeoJSON Polygon/MultiPolygon (or a Feature holding one) contains the point."""
    if not geometry:
        return False
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    try:
        if kind == "Polygon":
            return _in_polygon(lng, lat, coords)
        if kind == "MultiPolygon":
            return any(_in_polygon(lng, lat, polygon) for polygon in coords)
    except (TypeError, IndexError, ValueError):
        return False
    return False
