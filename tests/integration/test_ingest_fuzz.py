"""Fuzzed landing input built from a generated cohort: a value of the wrong JSON type in every field the bronze
flattening reads (``ingestion.fhir_shapes``), resources in Bundles nested 1 to 3 deep (and on ndjson lines),
and exact and conflicting duplicates across files. Seeded and deterministic.

Nothing crashes; every mutated record is quarantined with the JSON path of the value that was changed; per file
and resource type read == written + quarantined and written == rows in bronze + duplicates superseded, against
this test's own bookkeeping and the bronze tables; and the two parsing paths agree row for row.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from cohort.fhir import RESOURCE_TYPES
from cohort.generator import generate_cohort, iter_resources
from ingestion.audit import check_accounting
from ingestion.fhir_shapes import shape_of
from ingestion.ingest import TABLES, ingest_directory
from tests.integration.test_fast_path_equivalence import assert_same

SEED = 20_261_208
PER_TYPE = 12  # clean records taken from each generated file

# values of another JSON type than the one FHIR wants, per declared type
WRONG: dict[str, list[Any]] = {
    "string": [7, True, {"x": 1}, ["x"]],
    "decimal": ["3.8", True, {"value": 1}, [1.5]],
    "integer": [3.5, "3", True, 1000.0],
    "boolean": ["true", 1, {}, [True]],
    "object": ["Patient/x", 5, [{}], True],
    "array": [{}, "x", 3, [None]],  # [None]: an array element that is null
}


def _kind(dtype: Any) -> str:
    if isinstance(dtype, pl.Struct):
        return "object"
    if isinstance(dtype, pl.List):
        return "array"
    return {pl.String: "string", pl.Float64: "decimal", pl.Int64: "integer"}.get(dtype, "boolean")


def shape_paths(shape: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, kind) of every typed field of a shape, nested ones included; not resourceType or id,
    which routing checks (a resource without them is quarantined for that)."""
    out: list[tuple[str, str]] = []

    def walk(path: str, dtype: Any) -> None:
        out.append((path, _kind(dtype)))
        if isinstance(dtype, pl.Struct):
            for f in dtype.fields:
                walk(f"{path}.{f.name}", f.dtype)
        elif isinstance(dtype, pl.List):
            walk(f"{path}[0]", dtype.inner)

    for name, dtype in shape.items():
        if name not in ("resourceType", "id"):
            walk(name, dtype)
    return out


def _tokens(path: str) -> list[str | int]:
    return [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", path)]


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    """Put ``value`` at ``path``, creating the objects and arrays above it where absent."""
    tokens = _tokens(path)
    cur: Any = record
    for tok, nxt in zip(tokens, tokens[1:]):
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(tok, int):
            if not cur:
                cur.append(empty)
            cur = cur[0]
        else:
            if not isinstance(cur.get(tok), type(empty)):
                cur[tok] = empty
            cur = cur[tok]
    last = tokens[-1]
    if isinstance(last, int):
        if cur:
            cur[0] = value
        else:
            cur.append(value)
    else:
        cur[last] = value


@dataclass
class Landing:
    """What was placed where, and what ingestion must make of it."""

    root: Path
    files: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (file, resource type) -> Counter(read, quarantined)
    expected: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    fields: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, locator) -> JSON path
    occurrences: dict[str, list[tuple[str, tuple[int, ...], bytes]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    mutated: int = 0
    nested: Counter = field(default_factory=Counter)  # resources placed at each Bundle depth

    def place(self, rel: str, locator: str, resource: dict[str, Any], bad_path: str | None) -> None:
        rtype = resource["resourceType"]
        self.expected[(rel, rtype)]["read"] += 1
        if bad_path is not None:
            self.expected[(rel, rtype)]["quarantined"] += 1
            self.fields[(rel, locator)] = bad_path
            self.mutated += 1
        else:
            position = tuple(int(n) for n in re.findall(r"\d+", locator))
            canonical = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
            self.occurrences[f"{rtype}/{resource['id']}"].append((rel, position, canonical))

    def line(self, rel: str, resource: dict[str, Any], bad_path: str | None = None) -> None:
        self.files[rel].append(orjson.dumps(resource))
        self.place(rel, f"line {len(self.files[rel])}", resource, bad_path)


def _bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def build_landing(root: Path, cohort: Path) -> Landing:
    rng = random.Random(SEED)
    land = Landing(root)
    samples = {
        t: [orjson.loads(line) for _, line in zip(range(PER_TYPE), iter_resources(cohort, t))]
        for t in RESOURCE_TYPES
    }
    samples = {t: rs for t, rs in samples.items() if rs}
    serial = Counter()

    def fresh(rtype: str) -> dict[str, Any]:
        """A clean cohort record of ``rtype`` under a new id (each placement is its own resource)."""
        serial[rtype] += 1
        base = json.loads(json.dumps(rng.choice(samples[rtype])))
        return {**base, "id": f"{base['id']}-fz{serial[rtype]}"}

    # 1. a wrong type at every typed path of every type, each wrong value once, in ndjson among clean lines
    mutants: list[tuple[dict[str, Any], str]] = []
    for rtype in sorted(samples):
        for path, kind in shape_paths(shape_of(rtype)):
            for wrong in WRONG[kind]:
                record = fresh(rtype)
                set_path(record, path, wrong)
                bad = f"{path}[0]" if wrong == [None] else path
                mutants.append((record, bad))
    rng.shuffle(mutants)
    in_bundles = mutants[: len(mutants) // 10]
    for record, bad in mutants[len(mutants) // 10 :]:
        rel = f"mutated/{record['resourceType']}.ndjson"
        if rng.random() < 0.3:
            land.line(rel, fresh(record["resourceType"]))
        land.line(rel, record, bad)

    # 2. clean ndjson files (the vectorized path's happy case)
    for rtype in sorted(samples):
        for _ in range(PER_TYPE):
            land.line(f"clean/{rtype}.ndjson", fresh(rtype))

    # 3. Bundles nested 1 to 3 deep, holding clean and mutated resources; and Bundles on ndjson lines
    for depth in (1, 2, 3):
        for k in range(4):
            rel = f"bundles/depth{depth}-{k}.json"
            resources: list[tuple[dict[str, Any], str | None]] = [
                (fresh(rng.choice(sorted(samples))), None) for _ in range(rng.randint(2, 5))
            ]
            resources += [in_bundles.pop() for _ in range(min(3, len(in_bundles)))]
            rng.shuffle(resources)
            # the innermost Bundle holds the resources; each level above holds one clean resource first
            entries = [{"resource": r} for r, _ in resources]
            inside = [(r, bad, f"entry {i}") for i, (r, bad) in enumerate(resources)]
            for _ in range(depth - 1):
                extra = fresh(rng.choice(sorted(samples)))
                entries = [{"resource": extra}, {"resource": _bundle(entries)}]
                inside = [(r, bad, f"entry 1 > {loc}") for r, bad, loc in inside]
                inside.append((extra, None, "entry 0"))
            for resource, bad, locator in inside:
                land.place(rel, locator, resource, bad)
                land.nested[locator.count("entry")] += 1
            land.bundles[rel] = _bundle(entries)
    rel = "bundles/lines.ndjson"
    for n in range(1, 4):
        resources = [(fresh(rng.choice(sorted(samples))), None) for _ in range(3)]
        resources += [in_bundles.pop() for _ in range(min(2, len(in_bundles)))]
        land.files[rel].append(orjson.dumps(_bundle([{"resource": r} for r, _ in resources])))
        for i, (resource, bad) in enumerate(resources):
            land.place(rel, f"line {n} > entry {i}", resource, bad)
            land.nested[1] += 1  # the entries of a Bundle on a line
    for record, bad in in_bundles:  # whatever is left goes to ndjson
        land.line(f"mutated/{record['resourceType']}.ndjson", record, bad)

    # 4. duplicates across files: exact copies and conflicting versions of resources placed above
    placed = sorted(k for k, occ in land.occurrences.items() if occ)
    for key in rng.sample(placed, 60):
        rel, _, canonical = land.occurrences[key][0]
        resource = orjson.loads(canonical)
        target = rng.choice(["dups/a.ndjson", "dups/b.ndjson", "bundles/zz-dups.json"])
        if rng.random() < 0.5:  # conflicting: same type and id, other content
            resource = {
                **resource,
                "meta": {"lastUpdated": f"2026-01-0{rng.randint(1, 9)}T00:00:00Z"},
            }
        if target.endswith(".json"):
            bundle = land.bundles.setdefault(target, _bundle([]))
            bundle["entry"].append({"resource": resource})
            land.place(target, f"entry {len(bundle['entry']) - 1}", resource, None)
        else:
            land.line(target, resource)

    for rel, lines in land.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(lines) + b"\n")
    for rel, bundle in land.bundles.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    return land


def expected_duplicates(land: Landing) -> tuple[Counter, Counter]:
    """Per (file, type): occurrences superseded by a later one (manifest = sorted path order, then position),
    and those whose content differs from the kept one."""
    superseded, conflicting = Counter(), Counter()
    for key, occurrences in land.occurrences.items():
        rtype = key.split("/", 1)[0]
        ordered = sorted(occurrences, key=lambda o: (o[0], o[1]))
        kept = ordered[-1]
        for rel, _, canonical in ordered[:-1]:
            superseded[(rel, rtype)] += 1
            conflicting[(rel, rtype)] += int(canonical != kept[2])
    return superseded, conflicting


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Landing:
    root = tmp_path_factory.mktemp("fuzz")
    generate_cohort(root / "cohort", 25, SEED % 1000)
    return build_landing(root / "landing", root / "cohort")


def test_fuzzed_input_is_accounted_for(fuzzed: Landing, tmp_path, ingest_kwargs) -> None:
    land = fuzzed
    assert land.mutated >= 1000 and all(land.nested[d] for d in (1, 2, 3))
    bronze = tmp_path / "bronze"

    report = ingest_directory(land.root, bronze, **ingest_kwargs)  # no crash

    superseded, conflicting = expected_duplicates(land)
    keys = set(land.expected) | set(report.per_file)
    for key in sorted(keys):
        got, want = report.per_file.get(key), land.expected.get(key, Counter())
        assert got is not None, f"{key}: placed but not accounted for"
        assert (got.read, got.quarantined) == (want["read"], want["quarantined"]), key
        assert got.read == got.written + got.quarantined, key
        assert (got.superseded, got.conflicting) == (superseded[key], conflicting[key]), key
        assert got.written == got.in_bronze + got.superseded, key

    # every mutated record is quarantined with the path that was made wrong
    quarantine = DeltaTable(str(bronze / "quarantine")).to_pyarrow_table().to_pylist()
    by_place = {(r["source_file"], r["source_locator"]): r for r in quarantine}
    assert len(by_place) == len(quarantine) == len(land.fields)
    for place, path in land.fields.items():
        row = by_place[place]
        assert (row["field"], row["reason"].split(":")[0]) == (path, "wrong type"), (place, row)

    # rows in bronze per (file, type) are what the audit says: written - superseded
    in_bronze = Counter()
    for name in TABLES:
        rows = DeltaTable(str(bronze / name)).to_pyarrow_table(
            columns=["source_file", "resource_type"]
        )
        in_bronze.update(zip(rows["source_file"].to_pylist(), rows["resource_type"].to_pylist()))
    for key, counts in report.per_file.items():
        assert in_bronze[key] == counts.written - counts.superseded, key

    # the duplicates table records each superseded occurrence; the independent check agrees
    duplicates = DeltaTable(str(bronze / "duplicates")).to_pyarrow_table()
    assert duplicates.num_rows == sum(superseded.values()) == report.duplicates
    assert sum(duplicates["conflicting"].to_pylist()) == sum(conflicting.values())
    accounting = check_accounting(
        report.snapshot,
        DeltaTable(str(bronze / "ingest_audit")).to_pyarrow_table(),
        DeltaTable(str(bronze / "quarantine")).to_pyarrow_table(),
        duplicates,
    )
    assert accounting.ok, accounting.problems[:10]

    totals = report.totals
    assert totals.read == totals.written + totals.quarantined
    assert totals.written == totals.in_bronze + totals.superseded
    print(
        f"\nfuzz totals ({'vectorized' if ingest_kwargs.get('vectorized', True) else 'per-resource'}): "
        f"files {len(report.snapshot.files)}, read {totals.read}, written {totals.written} "
        f"(in bronze {totals.in_bronze}, duplicates superseded {totals.superseded}: "
        f"{totals.conflicting} conflicting, {totals.superseded - totals.conflicting} identical), "
        f"quarantined {totals.quarantined} (mutated records {land.mutated}); "
        f"resources in Bundles by depth {dict(sorted(land.nested.items()))}"
    )


def test_fuzzed_input_takes_the_same_decisions_on_both_paths(fuzzed: Landing) -> None:
    counts = assert_same(fuzzed.root)
    assert counts["observations"] > 0 and counts["patients"] > 0
