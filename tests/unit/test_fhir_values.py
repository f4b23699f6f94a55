"""FHIR datatype accessors: dates/instants, references, codings, period choices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ingestion.errors import QuarantineError
from ingestion.fhir_values import (
    concept_code,
    first_coding,
    parse_date,
    parse_instant,
    period_bounds,
    reference_id,
    reference_type,
)

UTC = UTC


# ---------------------------------------------------------------- parse_instant


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019", datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019-07", datetime(2019, 7, 1, tzinfo=UTC)),
        ("2019-07-14", datetime(2019, 7, 14, tzinfo=UTC)),
        ("2019-07-14T08:30:15Z", datetime(2019, 7, 14, 8, 30, 15, tzinfo=UTC)),
        ("2019-07-14T08:30:15+02:00", datetime(2019, 7, 14, 6, 30, 15, tzinfo=UTC)),
        ("2019-07-14T20:30:15-05:00", datetime(2019, 7, 15, 1, 30, 15, tzinfo=UTC)),
        (
            "2019-07-14T08:30:15",
            datetime(2019, 7, 14, 8, 30, 15, tzinfo=UTC),
        ),  # naive: taken as UTC
        ("2019-07-14T08:30:15.123Z", datetime(2019, 7, 14, 8, 30, 15, 123000, tzinfo=UTC)),
        ("2019-07-14T08:30:15.5+01:00", datetime(2019, 7, 14, 7, 30, 15, 500000, tzinfo=UTC)),
        ("2019-07-14T08:30:15.123456Z", datetime(2019, 7, 14, 8, 30, 15, 123456, tzinfo=UTC)),
    ],
)
def test_parse_instant_forms(value, expected):
    parsed = parse_instant(value, "effectiveDateTime")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0), "always normalised to UTC"


def test_parse_instant_none_is_none():
    assert parse_instant(None, "issued") is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2019-13",
        "2019-02-30",
        "2019-07-14T25:00:00Z",
        "",
        "20xx",
        "2019-07-14T08:30:15+99:00",
    ],
)
def test_parse_instant_unparseable_names_field_and_value(value):
    with pytest.raises(QuarantineError) as info:
        parse_instant(value, "effectiveDateTime")
    message = str(info.value)
    assert "unparseable date" in message
    assert "effectiveDateTime" in message
    assert repr(value) in message


@pytest.mark.parametrize("value", [20190714, 2019.5, ["2019"], {"start": "2019"}])
def test_parse_instant_non_string_is_quarantined(value):
    with pytest.raises(QuarantineError, match="issued"):
        parse_instant(value, "issued")


# ---------------------------------------------------------------- parse_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1950", date(1950, 1, 1)),
        ("1950-03", date(1950, 3, 1)),
        ("1950-03-21", date(1950, 3, 21)),
        ("1950-03-21T23:30:00-05:00", date(1950, 3, 21)),  # a dateTime keeps its own (local) date
        (None, None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value, "birthDate") == expected


@pytest.mark.parametrize("value", ["1950-02-30", "03/21/1950", "19xx", 1950])
def test_parse_date_unparseable(value):
    with pytest.raises(QuarantineError, match="unparseable date in birthDate"):
        parse_date(value, "birthDate")


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Patient/123", "123"),
        ({"reference": "Patient/123"}, "123"),
        ("http://fhir.example.org/r4/Patient/123", "123"),
        ("http://fhir.example.org/r4/Patient/123/_history/7", "123"),
        ("Patient/123/_history/2", "123"),
        ("urn:uuid:5b2c1a4e-0000-4000-8000-000000000001", "5b2c1a4e-0000-4000-8000-000000000001"),
        ("urn:oid:1.2.3.4", "1.2.3.4"),
        ("123", "123"),
        (None, None),
        ({}, None),
        ({"display": "Dr. Who"}, None),
        ("", None),
        (42, None),
    ],
)
def test_reference_id(ref, expected):
    assert reference_id(ref) == expected


def test_reference_id_resolves_bundle_fullurls():
    fullurls = {
        "urn:uuid:aaaa-1111": "patient-1",
        "http://example.org/fhir/Patient/xyz": "patient-2",
    }
    assert reference_id({"reference": "urn:uuid:aaaa-1111"}, fullurls) == "patient-1"
    assert reference_id("http://example.org/fhir/Patient/xyz", fullurls) == "patient-2"
    # a urn not in the map falls back to the uuid itself
    assert reference_id("urn:uuid:bbbb-2222", fullurls) == "bbbb-2222"
    # an empty map behaves like no map
    assert reference_id("Patient/9", {}) == "9"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Patient/123", "Patient"),
        ({"reference": "Group/7"}, "Group"),
        ({"type": "Patient", "reference": "urn:uuid:abc"}, "Patient"),  # explicit type wins
        ("http://x.org/fhir/Encounter/5/_history/1", "Encounter"),
        ("urn:uuid:abc", None),
        ("123", None),
        (None, None),
    ],
)
def test_reference_type(ref, expected):
    assert reference_type(ref) == expected


# ---------------------------------------------------------------- codings


def test_first_coding_takes_first_coding_of_first_concept():
    concepts = [
        {
            "coding": [
                {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"},
                {"system": "http://snomed.info/sct", "code": "364075005"},
            ]
        },
        {"coding": [{"system": "other", "code": "x"}]},
    ]
    assert first_coding(concepts) == {
        "system": "http://loinc.org",
        "code": "8867-4",
        "display": "Heart rate",
    }
    assert concept_code(concepts) == "8867-4"


def test_first_coding_uses_text_when_display_missing_or_no_coding():
    with_text = {
        "coding": [{"system": "http://snomed.info/sct", "code": "44054006"}],
        "text": "Diabetes",
    }
    assert first_coding(with_text) == {
        "system": "http://snomed.info/sct",
        "code": "44054006",
        "display": "Diabetes",
    }
    # an existing display is kept
    both = {"coding": [{"code": "1", "display": "One"}], "text": "Uno"}
    assert first_coding(both)["display"] == "One"
    # text only
    assert first_coding({"text": "free text reason"}) == {"display": "free text reason"}
    assert concept_code({"text": "free text reason"}) is None


@pytest.mark.parametrize(
    "concept", [None, [], {}, "code", {"coding": []}, {"coding": ["x"]}, [None]]
)
def test_first_coding_empty(concept):
    assert first_coding(concept) == {}


def test_first_coding_does_not_mutate_input():
    concept = {"coding": [{"code": "1"}], "text": "One"}
    first_coding(concept)
    assert concept == {"coding": [{"code": "1"}], "text": "One"}


# ---------------------------------------------------------------- period choices


def test_period_bounds_period():
    start, end = period_bounds(
        {"effectivePeriod": {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02"}}, "effective"
    )
    assert start == datetime(2020, 1, 1, tzinfo=UTC)
    assert end == datetime(2020, 1, 2, tzinfo=UTC)


def test_period_bounds_open_period():
    assert period_bounds({"performedPeriod": {"start": "2020-03"}}, "performed") == (
        datetime(2020, 3, 1, tzinfo=UTC),
        None,
    )


@pytest.mark.parametrize("suffix", ["DateTime", "Instant"])
def test_period_bounds_point_in_time(suffix):
    at = datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    resource = {f"effective{suffix}": "2021-05-06T07:08:09Z"}
    assert period_bounds(resource, "effective", instant=True) == (at, at)


def test_period_bounds_reads_instant_only_where_the_type_has_it():
    # Observation.effective[x] has an Instant choice; Condition.onset[x] and the others do not
    assert period_bounds({"onsetInstant": "2021-05-06T07:08:09Z"}, "onset") == (None, None)


def test_period_bounds_absent():
    assert period_bounds({"resourceType": "Observation"}, "effective") == (None, None)


def test_period_bounds_error_names_the_choice_field():
    with pytest.raises(QuarantineError, match=r"effectivePeriod\.end"):
        period_bounds(
            {"effectivePeriod": {"start": "2020-01-01", "end": "not a date"}}, "effective"
        )
    with pytest.raises(QuarantineError, match="onsetDateTime"):
        period_bounds({"onsetDateTime": "soon"}, "onset")
