"""The zone-blanche rule: a place no actor is near and no relation reaches."""

from __future__ import annotations

import summary_data

from carto.analysis.coverage import uncovered_places


def _uncovered(radius_km: float) -> list[str]:
    places, actors, relations = summary_data.places(), summary_data.actors(), summary_data.relations()
    flags = uncovered_places(places, actors, relations, radius_km=radius_km)
    assert list(flags.index) == list(places["id"])
    return list(flags.index[flags])


def test_uncovered_places_by_radius() -> None:
    # p1 is touched by r3; p3 is 0.2 km from a4 (0.002° of latitude ≈ 222 m); p2 is about 5 km from a5.
    assert _uncovered(1.0) == ["p2"]
    assert _uncovered(0.1) == ["p2", "p3"]
    assert _uncovered(6.0) == []


def test_a_place_without_position_is_near_no_actor() -> None:
    places = summary_data.places()
    places.loc[places["id"] == "p3", "geometry"] = None
    flags = uncovered_places(places, summary_data.actors(), summary_data.relations(), radius_km=1.0)
    assert flags.to_dict() == {"p1": False, "p2": True, "p3": True}
