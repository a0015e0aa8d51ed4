"""Command line: ``python -m carto [--db PATH] COMMAND``.

A user's mistake ends with one line on stderr and exit code 2; never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from carto import auth, store
from carto.errors import CartoError, DatabaseInUse, InputError
from carto.ingest import sample
from carto.model import DATASETS, IMPORT_MODES, places_beside_actors
from carto.store import backup

Handler = Callable[[argparse.Namespace], int]

# What territory indicators and summaries are computed from.
INDICATOR_DATASETS = ("territories", "actors", "places", "relations", "schemes")


def _open(args: argparse.Namespace) -> store.Connection:
    return store.connect(args.db)


@contextmanager
def _reading(args: argparse.Namespace) -> Iterator[store.Connection]:
    """A cursor on the database for the block, closed with its connection when the block ends.

    A command's frame may outlive the command (fpdf keeps the error of an optional import, and with
    it the frames that imported it): an open cursor in it would hold the database open in this
    process, and the next command's connection would meet its locked configuration.
    """
    conn = _open(args)
    try:
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
    finally:
        conn.close()


def _acting(args: argparse.Namespace) -> auth.User:
    """Whoever runs the command line holds the database file: an administrator, named by --user."""
    return auth.User(name=args.user, role="admin", source="cli")


def cmd_init(args: argparse.Namespace) -> int:
    conn = _open(args)
    version = store.schema_version(conn.cursor())
    print(f"database {store.describe(args.db or store.default_db())} ready (schema version {version})")
    return 0


def cmd_load_sample(args: argparse.Namespace) -> int:
    conn = _open(args)
    loaded = sample.load_folder(conn, Path(args.dir), user=auth.cli_user())
    print(", ".join(f"{name}: {n}" for name, n in loaded.items()))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    conn = _open(args)
    figures = store.counts(conn.cursor())
    if args.json:
        print(json.dumps(figures))
    else:
        for name, n in figures.items():
            print(f"{name:12} {n}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from carto.ingest import synthetic

    written = synthetic.write_tier(Path(args.out), args.scale, seed=args.seed)
    print(f"tier {args.scale} written to {args.out}: " + ", ".join(f"{k}: {v}" for k, v in written.items()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from carto.ingest import mapping as mapping_mod
    from carto.ingest import pipeline
    from carto.ingest.commit import ImportRefused
    from carto.ingest.safety import limits_from_env

    saved = mapping_mod.load_saved_mapping(Path(args.mapping)) if args.mapping else mapping_mod.SavedMapping()
    overrides = {**saved.columns, **mapping_mod.parse_map_args(args.map or [], args.dataset)}
    constants, values = _constants_and_values(args, saved)
    options = pipeline.ImportOptions(
        original_name=Path(args.path).name,
        layer=args.layer,
        mapping=overrides,
        constants=constants,
        values=values,
        crs=args.crs,
        encoding=args.encoding,
        mode=args.mode,
        repair=args.repair,
        skip_invalid=args.skip_invalid,
        create_parents=args.create_parents,
        limits=limits_from_env(),
        drop_relations=args.drop_relations,
    )
    path = Path(args.path)
    if not path.is_file():
        msg = f"{path} is not a file"
        raise InputError(msg)
    conn = _open(args)
    # The CLI's file is the user's own, but it goes through the same checks as an upload.
    raw = pipeline.read(path, original_name=path.name, layer=args.layer, encoding=args.encoding, limits=options.limits)
    services = Path(args.services) if args.services else None
    services_raw = pipeline.read(services, original_name=services.name, limits=options.limits) if services else None
    raw = pipeline.as_format(raw, args.dataset, args.format, services_raw)
    prepared = pipeline.prepare_raw(
        raw,
        dataset=args.dataset,
        conn=conn,
        mapping_overrides=overrides,
        crs=args.crs,
        repair=args.repair,
        mode=args.mode,
        constants=constants,
        values=values,
        create_parents=args.create_parents,
    )
    if args.save_mapping:
        mapping_mod.save_mapping(prepared.mapping, Path(args.save_mapping), constants=constants, values=values)
    for note in raw.warnings:
        print(f"note: {note}", file=sys.stderr)
    _print_cog_notes(prepared)
    try:
        result = pipeline.commit_prepared(conn, prepared, options, user=_acting(args), dry_run=args.dry_run)
    except ImportRefused as exc:
        _write_report(args, exc.report)
        print(exc.report.summary(limit=args.show), file=sys.stderr)
        _print_value_hints(prepared, constants, values)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _write_report(args, result.report)
    print(result.summary())
    return 0


def _constants_and_values(
    args: argparse.Namespace, saved: Any
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The saved mapping's constants and value recoding, with ``--set`` and ``--value`` over them."""
    from carto.ingest import values as values_mod

    constants = {**values_mod.check_constants(saved.constants, args.dataset),
                 **values_mod.parse_set_args(args.set or [], args.dataset)}
    values = {field: dict(recoding) for field, recoding in values_mod.check_values(saved.values, args.dataset).items()}
    for field, recoding in values_mod.parse_value_args(args.value or [], args.dataset).items():
        values.setdefault(field, {}).update(recoding)
    return constants, values


def _print_value_hints(prepared: Any, constants: dict[str, str], values: dict[str, dict[str, str]]) -> None:
    """For values the checks refused, the ``--value`` options that would recode them, to check and reuse."""
    from carto.ingest import values as values_mod

    dataset = prepared.dataset
    pending = values_mod.pending_values(
        prepared.raw.frame, dataset.name, prepared.mapping, constants=constants, values=values
    )
    for field, found in pending.items():
        allowed = ", ".join(dataset.column(field).choices or ())
        print(f"values of {field} not in the vocabulary ({allowed}); check these suggestions:", file=sys.stderr)
        for choice in found:
            if choice.suggested is None:
                print(f"  {choice.raw!r} (rows: {choice.rows}): no suggestion; --value \"{field}:{choice.raw}=VALUE\"",
                      file=sys.stderr)
            else:
                print(f"  --value \"{field}:{choice.raw}={choice.suggested}\"  (rows: {choice.rows})", file=sys.stderr)


def _print_cog_notes(prepared: Any) -> None:
    """The COG's changes to a territories file (a :class:`carto.ingest.pipeline.Prepared`)."""
    for cog_note in prepared.cog_notes:
        print(f"warning: {cog_note.message}", file=sys.stderr)
    if prepared.parents_created:
        print(f"note: {prepared.parents_created} missing EPCIs/départements created from the file's communes",
              file=sys.stderr)
    elif prepared.missing_parents:
        print(f"note: {prepared.missing_parents} EPCIs/départements of these communes are missing: "
              "--create-parents creates them from the file's communes", file=sys.stderr)


def _write_report(args: argparse.Namespace, report: Any) -> None:
    if args.report and report is not None:
        Path(args.report).write_text(report.to_csv(), encoding="utf-8")
        print(f"full report written to {args.report}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    from carto.render import export

    with _reading(args) as cur:
        frames = store.read_datasets(cur, export.datasets_needed(args.dataset, args.format))
    print(export.export(frames, args.dataset, args.format, Path(args.out)))
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from carto.ingest.commit import undo_import
    from carto.store.imports import last_import

    conn = _open(args)
    import_id = args.import_id
    if import_id is None:
        # This process holds the database file: the last import now is the one undone below.
        last = last_import(conn.cursor())
        if last is None:
            msg = "there is no import to undo"
            raise InputError(msg)
        import_id = last["id"]
        print(f"undoing the last import, #{import_id}: {last['dataset']} from {last['file_name']}")
    undone = undo_import(conn, import_id, _acting(args))
    print(f"import #{undone} undone; the data are as before it")
    return 0


def _analysed_frames(cur: store.Connection) -> dict[str, pd.DataFrame]:
    """The datasets the analyses take, each node id naming one node (a clash is said on stderr)."""
    frames = store.read_datasets(cur, INDICATOR_DATASETS)
    frames["places"], clashes = places_beside_actors(frames["places"], frames["actors"])
    if clashes:
        shown = ", ".join(clashes[:5])
        print(f"warning: {len(clashes)} id(s) name both an actor and a place ({shown}): "
              "those places are left out; give them another id", file=sys.stderr)
    return frames


def cmd_indicators(args: argparse.Namespace) -> int:
    from carto.analysis import indicators

    if args.radius_km <= 0:
        msg = f"--radius-km must be positive, not {args.radius_km}"
        raise InputError(msg)
    with _reading(args) as cur:
        frames = _analysed_frames(cur)
    table = indicators.territory_indicators(
        frames["territories"],
        frames["actors"],
        frames["places"],
        frames["relations"],
        frames["schemes"],
        radius_km=args.radius_km,
    )
    if args.territory is not None:
        if args.territory not in table.index:
            msg = f"unknown territory code {args.territory!r}; list the codes with `indicators --json`"
            raise InputError(msg)
        table = table.loc[[args.territory]]
    if args.json:
        print(json.dumps(indicators.json_records(table), ensure_ascii=False))
        return 0
    shown = [
        "code",
        "name",
        "level",
        "population",
        "actors",
        "relations_inside",
        "relations_crossing",
        "isolated_actors",
        "uncovered_places",
        "top_broker",
    ]
    print(table[shown].to_string(index=False))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from carto.analysis import indicators, network, summary
    from carto.analysis.social import territory_social
    from carto.render import pdf, summary_html, summary_text

    out = Path(args.out)
    if out.suffix.lower() not in (".pdf", ".html"):
        msg = f"--out must end with .pdf or .html, not {out.name!r}"
        raise InputError(msg)
    if args.radius_km <= 0:
        msg = f"--radius-km must be positive, not {args.radius_km}"
        raise InputError(msg)
    with _reading(args) as cur:
        frames = _analysed_frames(cur)
        imports = store.list_imports(cur)
    t, a, p, r, s = (frames[name] for name in INDICATOR_DATASETS)
    if args.code not in set(t["code"]):
        msg = f"no territory with code {args.code!r}; list the codes with `python -m carto indicators`"
        raise InputError(msg)
    metrics = network.node_metrics(a, p, r)
    table = indicators.territory_indicators(t, a, p, r, s, radius_km=args.radius_km, metrics=metrics)
    gathered = summary.territory_summary(args.code, table, a, p, r, t, metrics, radius_km=args.radius_km)
    sources = summary_text.sources_line(imports, args.lang, sample_name=sample.SAMPLE_DIR.name)
    facts = territory_social(args.code, t, a, p, r, s, metrics)  # the social space, after the summary
    if out.suffix.lower() == ".pdf":
        out.write_bytes(pdf.summary_pdf(gathered, args.lang, sources=sources, social=facts))
    else:
        out.write_text(summary_html.summary_html(gathered, args.lang, sources=sources, social=facts), encoding="utf-8")
    print(f"{gathered.name} ({gathered.code}) summary written to {out}")
    return 0


def cmd_social(args: argparse.Namespace) -> int:
    from carto.analysis import network, social
    from carto.render import social_text

    if args.buffer_km <= 0:
        msg = f"--buffer-km must be positive, not {args.buffer_km}"
        raise InputError(msg)
    with _reading(args) as cur:
        frames = _analysed_frames(cur)
    t, a, p, r, s = (frames[name] for name in INDICATOR_DATASETS)
    if args.code not in set(t["code"]):
        msg = f"no territory with code {args.code!r}; list the codes with `python -m carto indicators`"
        raise InputError(msg)
    metrics = network.node_metrics(a, p, r)
    facts = social.territory_social(args.code, t, a, p, r, s, metrics, buffer_m=args.buffer_km * 1000)
    if args.json:
        print(json.dumps(social.facts_record(facts), ensure_ascii=False))
        return 0
    name = str(t.loc[t["code"] == args.code, "name"].iloc[0])
    for heading, sentences, items in social_text.summary_sections(facts, name, args.lang):
        print(heading)
        for line in (*sentences, *(f"- {item}" for item in items)):
            print(f"  {line}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    out = Path(args.out).absolute() if args.out else None
    try:
        # The copy is written through the connection, which may write only where it is told.
        conn = store.connect(args.db, also_allow=[out.parent] if out else [])
    except DatabaseInUse as exc:
        msg = (
            f"the database {store.describe(args.db or store.default_db())} is in use by another process "
            "(the dashboard): "
            "back it up from the dashboard's admin page (Back up now), or set CARTO_BACKUP_EVERY_H so that "
            "the dashboard takes backups itself; this command is for a database no process holds"
        )
        raise DatabaseInUse(msg) from exc
    target = backup.backup(conn, out, auth.cli_user())
    print(f"backup written to {target}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    db = args.db or store.default_db()
    safety = backup.restore(db, Path(args.file), auth.cli_user())
    kept = f"; its previous content is in {safety}" if safety else ""
    print(f"{store.describe(db)} restored from {args.file}{kept}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m carto",
        description="Territories and social space: database and data tools.",
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="DuckDB file or postgresql://user@host/db URL (default: $CARTO_DB, else CARTO_DB in "
        ".streamlit/secrets.toml, else data/carto.duckdb)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create the database or bring its schema up to date")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("load-sample", help="replace the data by the embedded sample (or a tier folder)")
    p.add_argument("--dir", default=str(sample.SAMPLE_DIR), help="folder to load (default: the sample)")
    p.set_defaults(handler=cmd_load_sample)

    p = sub.add_parser("stats", help="count the rows of each dataset")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("sample", help="write a synthetic scale tier (S, M or L) as files")
    p.add_argument("--scale", required=True, choices=("S", "M", "L"))
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser("import", help="check a file and store its rows (all or nothing)")
    p.add_argument("dataset", metavar="DATASET", choices=tuple(DATASETS), help=", ".join(DATASETS))
    p.add_argument("path", metavar="PATH", help="GeoJSON, GeoPackage, zipped Shapefile, CSV, XLSX...")
    p.add_argument("--layer", metavar="NAME", help="layer or sheet to read when the file has several")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN", help="use COLUMN for FIELD (repeatable)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="the same VALUE for FIELD on every row, e.g. level=commune (repeatable)")
    p.add_argument("--value", action="append", metavar="FIELD:FROM=TO",
                   help="read the file's value FROM as TO for FIELD, e.g. "
                        "\"type:Conseil départemental=local_authority\" (repeatable)")
    p.add_argument("--mapping", metavar="FILE", help="reuse a mapping saved with --save-mapping or by the import page")
    p.add_argument("--save-mapping", metavar="FILE", help="save the mapping used (columns, --set, --value) as JSON")
    p.add_argument("--crs", metavar="EPSG:N", help="coordinate system of the file when it does not say")
    p.add_argument("--encoding", metavar="NAME", help="text encoding of the file (e.g. cp1252, utf-8)")
    p.add_argument("--mode", choices=IMPORT_MODES, default="append")
    p.add_argument("--format", default="auto", choices=("auto", "plain", "data-inclusion"),
                   help="data-inclusion: the schema's structures as actors (auto: when the columns say so)")
    p.add_argument("--services", metavar="FILE", help="data-inclusion services file: attached to their structures")
    p.add_argument("--drop-relations", action="store_true",
                   help="replace: also remove the relations to actors/places no longer in the file")
    p.add_argument("--repair", action="store_true", help="repair invalid geometries (reported as warnings)")
    p.add_argument("--skip-invalid", action="store_true", help="store the valid rows, skip the others")
    p.add_argument("--create-parents", action="store_true",
                   help="territories: create the missing EPCIs and départements of the file's communes (COG)")
    p.add_argument("--dry-run", action="store_true", help="check and report, store nothing")
    p.add_argument("--report", metavar="FILE", help="write the full report as CSV")
    p.add_argument("--show", type=int, default=20, metavar="N", help="problems printed on refusal")
    p.add_argument("--user", default=_default_user(), help="name recorded in the audit trail")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("export", help="write a dataset (or the network) to a file")
    p.add_argument("dataset", metavar="DATASET", choices=(*DATASETS, "network"), help="a dataset or network")
    p.add_argument("--format", required=True, choices=("geojson", "gpkg", "csv", "gexf", "graphml"))
    p.add_argument("--out", required=True, metavar="PATH")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("undo", help="undo an import (the last one), restoring the data as before it")
    p.add_argument(
        "import_id",
        metavar="ID",
        type=int,
        nargs="?",
        help="the import to undo, refused unless it is still the last one (default: the last one)",
    )
    p.add_argument("--user", default=_default_user(), help="name recorded in the audit trail")
    p.set_defaults(handler=cmd_undo)

    p = sub.add_parser("indicators", help="figures per territory (actors, relations, brokers, gaps)")
    p.add_argument("--territory", metavar="CODE", help="only this territory")
    p.add_argument("--radius-km", type=float, default=1.0, help="reach of an actor around it (default 1 km)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per territory")
    p.set_defaults(handler=cmd_indicators)

    p = sub.add_parser("report", help="one-page summary of a territory, as PDF or HTML")
    p.add_argument("code", metavar="CODE", help="territory code (e.g. a commune's INSEE code)")
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.pdf or FILE.html")
    p.add_argument("--lang", choices=("fr", "en"), default="fr", help="language (default fr)")
    p.add_argument("--radius-km", type=float, default=1.0, help="reach of an actor around it (default 1 km)")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("social", help="a territory's social space: footprints, referrals, partnerships, schemes")
    p.add_argument("code", metavar="CODE", help="territory code (e.g. a commune's INSEE code)")
    p.add_argument("--buffer-km", type=float, default=1.0, help="reach around each place and actor (default 1 km)")
    p.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the sentences (default fr)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(handler=cmd_social)

    p = sub.add_parser(
        "backup",
        help="copy the database to a file (default: its backups/ folder); DuckDB: with the dashboard stopped",
    )
    p.add_argument("--out", metavar="FILE", help="new file to write")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="replace the database by a backup (a DuckDB file: stop the dashboard first)")
    p.add_argument("file", metavar="FILE", help="a backup written by the backup command")
    p.set_defaults(handler=cmd_restore)

    return parser


def _default_user() -> str:
    return auth.cli_user().name


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CartoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
