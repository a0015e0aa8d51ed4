"""The network of actors and places: graph building, per-node metrics, communities, ego networks.

Conventions (the same for both engines, so igraph results can be checked against networkx):

- **Nodes** are every actor and every place (ids are unique across both); a node with no relation
  is still a node (degree 0, its own component and community).
- **Degree** counts relations, not neighbours: two relations between the same pair count twice.
  A relation with ``directed`` false (or missing) is a two-way link: it counts in ``in_degree``
  *and* ``out_degree`` of both ends; a directed one counts in the source's ``out_degree`` and the
  target's ``in_degree``. ``degree`` is the number of relations touching the node (a self-loop
  counts twice, as in networkx). ``weighted_degree`` sums the weights (missing weight = 1).
- **Betweenness** and **closeness** are computed on the *simple undirected* graph (direction
  ignored, parallel relations merged, self-loops dropped), **unweighted**: a broker is someone on
  the shortest chains of acquaintance, whatever the weight of each link. Betweenness is normalised
  by (n-1)(n-2)/2 over *all* n nodes; closeness is networkx's ``wf_improved`` form:
  ((r-1)/sum of distances) * ((r-1)/(n-1)) with r the size of the node's component.
  On large graphs both are estimated from a seeded sample of source nodes (see ``samples``); the
  frame's ``attrs["sampled_sources"]`` says how many sources were used (0 = exact).
- **PageRank** runs on the directed multigraph (a two-way relation is two arcs), weighted,
  damping 0.85.
- **Community**: Louvain (multilevel modularity) on the simple undirected graph whose edge weight
  is the sum of the merged relations' weights, with a fixed seed.
- **Community** and **component** labels are integers 0, 1, 2... renumbered by size (largest
  first), ties broken by the smallest node id in the group, so they are stable from run to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import networkx as nx
import pandas as pd

from carto import flows

ENGINES = ("igraph", "networkx")
METRIC_COLUMNS = (
    "degree",
    "in_degree",
    "out_degree",
    "weighted_degree",
    "betweenness",
    "closeness",
    "pagerank",
    "community",
    "component",
    "isolate",
    "articulation",
)
SEED = 42
# Exact betweenness/closeness costs about nodes x edges steps; above this budget they are sampled.
EXACT_BUDGET = 100_000_000


def active_on(relations: pd.DataFrame, on_date: date | None) -> pd.DataFrame:
    """Relations active on ``on_date``: ``start`` <= day and (``end`` is null or ``end`` >= day).

    A missing ``start`` counts as "always started". ``None`` returns ``relations`` unchanged.
    """
    raise NotImplementedError


def build_graph(
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    *,
    on_date: date | None = None,
) -> nx.MultiDiGraph:
    """The typed multigraph of actors and places.

    Node attributes: ``node_type`` ("actor" or "place"), ``name``, ``type`` (actor type or place
    kind), ``sector`` (actors only, else None), ``territory_code``. One edge per relation, from
    ``source`` to ``target``, keyed by relation id, with ``kind``, ``dimension``, ``formal``,
    ``weight`` (missing = 1.0), ``directed`` (missing = False) and ``scheme_id``. An undirected
    relation is still stored once, source to target: read its ``directed`` attribute. Relations
    whose ends are not known nodes are left out.
    """
    raise NotImplementedError


def node_metrics(
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    *,
    on_date: date | None = None,
    engine: str = "igraph",
    samples: int | None = None,
    seed: int = SEED,
) -> pd.DataFrame:
    """Per-node metrics, indexed by node id (every actor and place, sorted by id).

    Columns: see :data:`METRIC_COLUMNS` and the module docstring for how directions, parallel
    relations and weights are treated. ``engine`` "igraph" is the fast path, "networkx" the
    reference. ``samples``: number of source nodes for betweenness/closeness in the components
    too large for an exact computation; None = exact when nodes x edges <= :data:`EXACT_BUDGET`,
    else 1 source per ``EXACT_BUDGET / edges`` (at least 50); 0 forces exact.
    """
    raise NotImplementedError


def territory_graph(
    relations: pd.DataFrame,
    node_territory: pd.Series,
    *,
    territories: pd.DataFrame | None = None,
    level: str | None = None,
) -> pd.DataFrame:
    """Relations aggregated between territories (see :func:`carto.flows.aggregate_flows`).

    With ``territories`` and ``level``, each node is first lifted to its ancestor at that level
    (e.g. flows between EPCIs). Columns: ``source_code``, ``target_code``, ``relations``,
    ``weight``, one count per relation kind.
    """
    raise NotImplementedError


def territory_nx_graph(flow_table: pd.DataFrame) -> nx.DiGraph:
    """A networkx DiGraph of a :func:`territory_graph` table (edge attributes = its columns)."""
    raise NotImplementedError


def ego_nodes(relations: pd.DataFrame, node_id: str, radius: int = 1) -> set[str]:
    """Ids of the nodes within ``radius`` relations (1 to 3) of ``node_id``, itself included.

    Direction is ignored (a referral links both services). Pure, over the relations frame.
    """
    raise NotImplementedError


def ego_relations(relations: pd.DataFrame, node_ids: Iterable[str]) -> pd.DataFrame:
    """The relations whose two ends are both in ``node_ids``."""
    raise NotImplementedError
