"""Analyses: pure functions over frames, the third layer.

May import: the base modules (``carto.model``, ``errors``, ``i18n``, ``text``, ``formatting``,
``auth``). May not import: the store, ingest, render or ui layers, nor streamlit (``.importlinter``).
Frames in (territories, actors, places, relations, schemes as read from the store), frames or
Series out, indexed by node id or territory code so that the map, the network and the summary join
on the same keys. How a relation is counted inside a territory, the hierarchy of territories, the
zone-blanche rule, network metrics, flows between territories, filters and the selection live here.
"""
