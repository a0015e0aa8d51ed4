"""A tiny département whose every name is hostile: markup, template syntax, markdown, formulas.

Built on :mod:`summary_data` (same shapes, ids and relations), so every page has something to show.
One actor also takes the id of a place: actors and places are both nodes, and the pages must not
break on a database that holds such a clash (the import refuses it; an older database may have it).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import summary_data
from shapely.geometry import Point

# Each is a way a name could turn into code or an outside request if it were not shown as text.
PAYLOADS = (
    "<img src=x onerror=alert(parent.document.title)>",
    "{{ 7*7 }}",
    "{% if",
    "{# x",
    "![x](http://evil.example/beacon.png)",
    "</script><script>alert(2)</script>",
    '=HYPERLINK("http://evil.example","clic")',
    "[lien](javascript:alert(3)) :red[rouge] $x^2$ **gras**",
    "<svg onload=alert(4)>",
    "\"'><iframe src=javascript:alert(5)>",
)

# What must never reach a page: evaluated templates, live tags, fetched images.
EVALUATED = "49"


def hostile(i: int, plain: str) -> str:
    """A name mixing a payload with a readable word, so the row can still be told apart."""
    return f"{PAYLOADS[i % len(PAYLOADS)]} {plain}"


def frames() -> dict[str, pd.DataFrame]:
    """The tiny département with hostile names, as the frames the analyses take.

    D1 and C1 carry an image whose error runs script, C2 and C3 template syntax; actors, places and the scheme the rest.
    """
    territories = summary_data.territories()
    territories["name"] = [hostile(i, n) for i, n in zip((0, 0, 1, 2), territories["name"], strict=True)]
    actors = summary_data.actors()
    actors["name"] = [hostile(i + 3, n) for i, n in enumerate(actors["name"])]
    places = summary_data.places()
    places["name"] = [hostile(i + 1, n) for i, n in enumerate(places["name"])]
    schemes = summary_data.schemes()
    schemes["name"] = [hostile(5, n) for n in schemes["name"]]
    return {
        "territories": territories,
        "actors": actors,
        "places": places,
        "relations": summary_data.relations(),
        "schemes": schemes,
    }


def write_database(folder: Path) -> Path:
    """A database file in ``folder`` holding :func:`frames`, and an actor with a place's id."""
    from carto import store

    data = frames()
    clash = gpd.GeoDataFrame(
        {
            "id": ["p3"],
            "name": [hostile(0, "Acteur au même id qu'un lieu")],
            "type": ["association"],
            "sector": ["social"],
            "territory_code": ["C2"],
        },
        geometry=[Point(2.16, 46.06)],
        crs=summary_data.CRS,
    )
    actors = pd.concat([data["actors"], clash], ignore_index=True)
    db = folder / "hostile.duckdb"
    conn = store.connect(db)
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", data["territories"])
        store.insert_rows(cur, "schemes", data["schemes"])
        store.insert_rows(cur, "places", data["places"])
        store.insert_rows(cur, "actors", actors)
        store.insert_rows(cur, "relations", data["relations"])
        store.assign_territories(cur)
    conn.close()
    return db
