"""Check results say why in words a person reads: top reasons with counts, ages in hours and days."""

from datetime import timedelta

from energy_pipelines.checks.factory import age_text, why, why_markdown


def test_the_top_reasons_come_first_with_their_counts_and_the_rest_is_counted():
    counts = {"overlaps an earlier session on the same charge point": 1, "negative energy": 12,
              "unknown station": 3, "a": 2, "b": 2, "c": 2}
    assert why(counts, limit=3) == ("negative energy (12 row(s)), unknown station (3 row(s)), a (2 row(s)) "
                                    "and 3 more")
    assert why({"row count out of range": None}) == "row count out of range"


def test_the_reasons_render_as_a_markdown_table_with_pipes_escaped():
    table = why_markdown({"x|y": 2, "z": 5}, "reason").value
    assert table.splitlines() == ["| reason | rows |", "|---|---:|", "| z | 5 |", "| x\\|y | 2 |"]


def test_ages_read_as_minutes_hours_and_days():
    assert age_text(timedelta(minutes=45)) == "45 min"
    assert age_text(timedelta(minutes=75)) == "1 h 15 min"
    assert age_text(timedelta(hours=2)) == "2 h"
    assert age_text(timedelta(days=696, hours=11, minutes=5)) == "696 days 11 h"
    assert age_text(timedelta(days=1)) == "1 day"
