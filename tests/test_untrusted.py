"""`promote.untrusted`: the one reader of untrusted JSON (strict numbers, bounded nesting, the file named)."""

from __future__ import annotations

import pytest

from promote.errors import InputError, TemplateError
from promote.untrusted import MAX_DEPTH, JsonRefused, depth_over, load_json, parse_json


def nested(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "[1e999]", "[-1e400]"])
def test_numbers_json_does_not_have_are_refused(text: str) -> None:
    with pytest.raises(InputError) as info:
        load_json(text, "t.json")
    problem = info.value.problems[0]
    assert problem.file == "t.json"
    assert "NaN or Infinity" in (problem.hint or "")


def test_ordinary_numbers_are_kept() -> None:
    assert load_json('{"a": 1.5, "b": -2, "c": 1e300, "d": 12345678901234567890}', "f") == {
        "a": 1.5,
        "b": -2,
        "c": 1e300,
        "d": 12345678901234567890,
    }


def test_an_integer_of_thousands_of_digits_is_refused_not_crashed_on() -> None:
    with pytest.raises(InputError, match="digits"):
        load_json("[" + "9" * 5000 + "]", "f.json")


def test_nesting_up_to_the_bound_is_read_one_more_level_is_refused() -> None:
    assert load_json(nested(MAX_DEPTH), "f") is not None
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels"):
        load_json(nested(MAX_DEPTH + 1), "f")


@pytest.mark.parametrize("levels", [950, 5000, 100_000])
def test_nesting_that_crashes_python_is_refused(levels: int) -> None:
    with pytest.raises(InputError, match="nested more than"):
        load_json(nested(levels), "deep.json")


def test_the_error_type_and_wording_are_the_callers() -> None:
    with pytest.raises(TemplateError) as info:
        load_json("{", "ARMTemplateForFactory.json", error=TemplateError, what="not a plan file: invalid JSON")
    assert str(info.value).startswith("ARMTemplateForFactory.json:1: not a plan file: invalid JSON: Expecting")


def test_bytes_with_a_bom_and_utf16_are_read() -> None:
    assert load_json(b"\xef\xbb\xbf[1]", "f") == [1]
    assert load_json("[2]".encode("utf-16"), "f") == [2]


def test_parse_json_says_whether_the_text_was_json_at_all() -> None:
    with pytest.raises(JsonRefused) as syntax:
        parse_json("<html>")
    with pytest.raises(JsonRefused) as value:
        parse_json("[NaN]")
    assert syntax.value.syntax and not value.value.syntax


def test_depth_of_scalars_and_shallow_documents() -> None:
    assert not depth_over(1, 0)
    assert depth_over([], 0)
    assert not depth_over({"a": [{"b": 1}]}, 3)
    assert depth_over({"a": [{"b": {}}]}, 3)
