"""Spatial coverage: which inhabited places no partner reaches (the *zones blanches*).

One rule for the indicators, which count these places, and for the summary, which names them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

# Metric CRS for distances (Lambert-93, metres): places to actors within ``radius_km``.
METRIC_CRS = "EPSG:2154"


def uncovered_places(
    places: pd.DataFrame, actors: pd.DataFrame, relations: pd.DataFrame, *, radius_km: float
) -> pd.Series:
    """True for each place with no actor within ``radius_km`` and no relation touching it.

    Indexed by place id, in the order of ``places``. Distances are measured from the place's
    geometry in :data:`METRIC_CRS`; a place without a geometry is near no actor.
    """
    places = places.reset_index(drop=True)
    ids = places["id"].astype(str)
    touched = pd.concat([relations["source"], relations["target"]]).astype(str).unique()
    covered = ids.isin(touched).to_numpy().copy()
    if isinstance(places, gpd.GeoDataFrame) and isinstance(actors, gpd.GeoDataFrame) and len(actors):
        place_geo = places[places.geometry.notna() & ~places.geometry.is_empty].to_crs(METRIC_CRS)
        actor_geo = actors[actors.geometry.notna() & ~actors.geometry.is_empty].to_crs(METRIC_CRS)
        if len(place_geo) and len(actor_geo):
            near, _ = actor_geo.sindex.query(place_geo.geometry, predicate="dwithin", distance=radius_km * 1000.0)
            covered |= places.index.isin(place_geo.index[np.unique(near)])
    return pd.Series(~covered, index=ids.to_numpy(), name="uncovered")
