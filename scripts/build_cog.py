"""Build the embedded Code officiel géographique, ``data/cog/cog.json.gz``.

It is derived from the npm package ``@etalab/decoupage-administratif`` (its data are INSEE's COG and
the BANATIC intercommunality data, Licence Ouverte 2.0), the version pinned in
:mod:`scripts.build_sample`. :mod:`carto.ingest.cog` reads it to recognise French codes on import.

Run from the repository root (same bytes for the same package version)::

    .venv/bin/python -m scripts.build_cog               # fetches the npm package with `npm pack`
    .venv/bin/python -m scripts.build_cog --decoupage /path/to/decoupage-administratif
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.build_sample import DECOUPAGE_PACKAGE, REPO_ROOT, fetch_decoupage, find_decoupage_data, former_codes

DEFAULT_OUT = REPO_ROOT / "data" / "cog" / "cog.json.gz"


def _load(data_dir: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((data_dir / name).read_text(encoding="utf-8"))
    return rows


def build_cog(
    communes_json: Sequence[dict[str, Any]],
    epci_json: Sequence[dict[str, Any]],
    departements_json: Sequence[dict[str, Any]],
    *,
    source: str = DECOUPAGE_PACKAGE,
) -> dict[str, Any]:
    """The compact tables: every value a list in a fixed order (see ``fields``)."""
    today = {c["code"]: c for c in communes_json if c.get("type") == "commune-actuelle"}
    epci_of = {m["code"]: e["code"] for e in epci_json for m in e["membres"]}
    communes = {
        code: [c["nom"], epci_of.get(code, ""), c["departement"], c.get("population")]
        for code, c in sorted(today.items())
    }
    former = former_codes(communes_json)
    epcis: dict[str, list[Any]] = {}
    for e in sorted(epci_json, key=lambda e: e["code"]):
        by_departement: dict[str, int] = defaultdict(int)
        for m in e["membres"]:
            if m["code"] in today:
                by_departement[today[m["code"]]["departement"]] += int(today[m["code"]].get("population") or 0)
        # The département holding most of its population first: the EPCI's parent.
        departements = sorted(by_departement, key=lambda d: (-by_departement[d], d))
        epcis[e["code"]] = [e["nom"], departements, e.get("populationMunicipale")]
    departements_out = {d["code"]: [d["nom"], d["region"]] for d in sorted(departements_json, key=lambda d: d["code"])}
    return {
        "source": source,
        "licence": "Licence Ouverte / Open Licence 2.0 (Etalab); INSEE, Code officiel géographique; DGCL, BANATIC",
        "fields": {
            "communes": ["name", "epci", "departement", "population"],
            "epcis": ["name", "departements", "population"],
            "departements": ["name", "region"],
            "former": "former commune code -> today's commune code",
        },
        "communes": communes,
        "epcis": epcis,
        "departements": departements_out,
        "former": former,
    }


def render_cog(cog: dict[str, Any]) -> bytes:
    """Gzip'd compact JSON with a zero timestamp: the same tables give the same bytes."""
    text = json.dumps(cog, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decoupage", type=Path, help="decoupage-administratif package (fetched with npm if absent)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="decoupage-") as tmp:
        data_dir = find_decoupage_data(args.decoupage) if args.decoupage else fetch_decoupage(Path(tmp))
        cog = build_cog(
            _load(data_dir, "communes.json"), _load(data_dir, "epci.json"), _load(data_dir, "departements.json")
        )
    payload = render_cog(cog)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(payload)
    print(
        f"{len(cog['communes'])} communes, {len(cog['epcis'])} EPCIs, {len(cog['departements'])} départements, "
        f"{len(cog['former'])} former codes; {len(payload) / 1024:.0f} KiB written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
