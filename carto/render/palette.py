"""Every colour of the product, once: a type, kind or community looks the same on the map, the
network, the summary's images, its PDF and the choropleths.

Colours are ``#rrggbb`` texts; :func:`rgb` gives the ``(r, g, b)`` that Pillow and fpdf2 take.
"""

from __future__ import annotations

from carto.model import ACTOR_TYPES

# Roles.
ACCENT = "#1f4e9c"  # headings of the summary, its actors on the static map
WARNING = "#e07a1f"  # isolated actors
ALERT = "#d62828"  # places no partner reaches, the territory picked on the summary's choropleth
HIGHLIGHT_COLOUR = "#ffd400"  # selected nodes, on the map and in the network
SELECTED_OUTLINE = "#000000"  # the territory picked on the explorer's map
TERRITORY_FILL = "#f2efe6"  # boundaries, and territories without a value on a choropleth
TERRITORY_LINE = "#555555"
BACKGROUND = "#ffffff"
TEXT = "#000000"  # body text of the PDF
MUTED_TEXT = "#5a5a5a"  # subtitles and footers of the PDF
RULE_LINE = "#c8c8c8"  # frames and rules of the PDF
PLACE_COLOUR = "#222222"  # the ring of a place: places are white rings on the map and in the network
PLACE_FILL = "#ffffff"
CLUSTER_COLOUR = "#f28e2b"  # actors and places counted per territory
FLOW_COLOUR = "#3b4cc0"  # relations aggregated between territories

RELATION_COLOURS: dict[str, str] = {
    "partnership": ACCENT,
    "network": "#2a9d8f",
    "referral": WARNING,
    "affinity": "#6a3d9a",
    "tension": ALERT,
}

ACTOR_COLOURS: dict[str, str] = dict(
    zip(
        ACTOR_TYPES,
        (
            "#e41a1c",
            "#377eb8",
            "#4daf4a",
            "#984ea3",
            "#ff7f00",
            "#a65628",
            "#f781bf",
            "#1b9e77",
            "#7570b3",
            "#66a61e",
            "#e6ab02",
            "#666666",
            "#999999",
        ),
        strict=True,
    )
)
# In the network, places are nodes beside the actors' types (filled as on the map, ringed in PLACE_COLOUR).
TYPE_COLOURS: dict[str, str] = {**ACTOR_COLOURS, "place": PLACE_FILL}

COMMUNITY_PALETTE = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#1f78b4",
    "#b2df8a",
    "#fb9a99",
    "#cab2d6",
)
NO_COMMUNITY = "#bbbbbb"  # communities smaller than the len(COMMUNITY_PALETTE) largest, and no community

# Choropleth classes, lowest to highest (carto.render.choropleth).
CHOROPLETH_COLOURS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")


def relation_colours(kinds: list[str]) -> list[str]:
    """The colour of each relation kind of ``kinds``, in that order (for a chart's series)."""
    return [RELATION_COLOURS[kind] for kind in kinds]


def community_colour(community: object) -> str:
    """Communities are numbered by size: the largest get the palette's colours, the others grey."""
    try:
        number = int(community)  # type: ignore[call-overload]
    except (TypeError, ValueError):  # None, NaN
        return NO_COMMUNITY
    return COMMUNITY_PALETTE[number] if 0 <= number < len(COMMUNITY_PALETTE) else NO_COMMUNITY


def rgb(colour: str) -> tuple[int, int, int]:
    """``"#1f4e9c"`` → ``(31, 78, 156)``."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
