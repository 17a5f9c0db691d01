"""Settings declared once: the core defaults, the CLI flags, the API fields and the OpenAPI
schema all come from app/core/model_settings.py and cannot drift apart."""

from __future__ import annotations

import argparse
import math

import pytest

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.core.model_settings import MODEL_SETTINGS, SPECS
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings


def test_the_core_dataclasses_take_their_defaults_from_the_declarations():
    s, d, r = SamplingSettings(), DraftSettings(), GenerationRequest(prompt="x")
    declared = model_settings.defaults()
    assert (s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty) == tuple(
        declared[k] for k in ("temperature", "top_k", "top_p", "min_p", "repeat_penalty")
    )
    assert (d.max_draft_size, d.min_draft_size, d.p_min) == (
        declared["draft_max"],
        declared["draft_min"],
        declared["draft_p_min"],
    )
    assert d.auto is True
    assert declared["draft_auto"] is True
    assert r.max_tokens == declared["max_tokens"] == 1024
    assert DraftSettings.from_values(declared) == d
    assert SamplingSettings.from_values(declared) == s


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_numbers_must_be_finite(bad):
    for spec in MODEL_SETTINGS:
        if spec.kind in (int, float):
            with pytest.raises(InvalidRequestError, match="finite"):
                spec.coerce(bad)
    with pytest.raises(InvalidRequestError, match="temperature must be a finite number"):
        SamplingSettings(temperature=bad).validate()
    with pytest.raises(InvalidRequestError, match="draft_p_min must be a finite number"):
        DraftSettings(p_min=bad).validate()


def test_coerce_names_the_field_it_was_given_as():
    with pytest.raises(InvalidRequestError, match=r"^num_draft_tokens must be <= 10$"):
        SPECS["mlx_draft_tokens"].coerce(11, "num_draft_tokens")
    assert SPECS["top_k"].coerce(3.0) == 3
    assert isinstance(SPECS["top_k"].coerce(3.0), int)
    assert SPECS["draft_model"].coerce(None) is None


def test_request_validation_uses_the_declared_ranges():
    with pytest.raises(InvalidRequestError, match=r"repeat_penalty must be >= 0\.5"):
        SamplingSettings(repeat_penalty=0.1).validate()
    with pytest.raises(InvalidRequestError, match="draft_max must be <= 64"):
        DraftSettings(max_draft_size=65).validate()
    with pytest.raises(InvalidRequestError, match="min draft size must not exceed"):
        DraftSettings(max_draft_size=2, min_draft_size=3).validate()


def test_cli_flags_are_generated_and_parsed_with_the_declared_rules():
    parser = argparse.ArgumentParser(exit_on_error=False)
    model_settings.add_cli_flags(parser)
    args = parser.parse_args(["--draft-max", "8", "--no-draft-auto", "--temperature", "0", "--system", "Hi"])
    values = model_settings.cli_values(args)
    assert set(values) == {s.name for s in MODEL_SETTINGS if s.cli}
    assert values["draft_max"] == 8
    assert values["draft_auto"] is False
    assert values["temperature"] == 0.0
    assert values["system_prompt"] == "Hi"
    assert values["top_k"] is None
    assert model_settings.cli_values(parser.parse_args(["--draft-auto"]))["draft_auto"] is True
    with pytest.raises(argparse.ArgumentError, match="must be <= 64"):
        parser.parse_args(["--draft-max", "65"])


def test_api_fields_and_openapi_properties_cover_every_request_setting():
    fields = model_settings.api_specs()
    assert fields["num_draft_tokens"].name == "mlx_draft_tokens"
    assert {"draft_auto", "num_draft_tokens", "temperature", "repeat_penalty"} <= set(fields)
    props = model_settings.openapi_properties()
    for field, spec in fields.items():
        assert props[field].get("minimum") == spec.minimum
        assert props[field].get("maximum") == spec.maximum


def test_the_docs_table_names_flags_and_fields():
    table = model_settings.markdown_table()
    assert "`--draft-auto` / `--no-draft-auto`" in table
    assert "`num_draft_tokens`" in table


def test_context_overflow_is_one_of_its_choices_everywhere():
    spec = SPECS["context_overflow"]
    assert model_settings.default("context_overflow") == GenerationRequest(prompt="x").context_overflow.value
    assert spec.problem("sideways") == "must be one of truncate-middle, rolling-window, stop-at-limit"
    assert spec.problem("rolling-window") is None
    assert spec.json_schema()["enum"] == ["truncate-middle", "rolling-window", "stop-at-limit"]
    parser = argparse.ArgumentParser()
    model_settings.add_cli_flags(parser)
    assert (
        model_settings.cli_values(parser.parse_args(["--context-overflow", "stop-at-limit"]))[
            "context_overflow"
        ]
        == "stop-at-limit"
    )
    with pytest.raises(InvalidRequestError, match="context_overflow must be one of"):
        GenerationRequest(prompt="x", context_overflow="sideways").validate()  # type: ignore[arg-type]
    assert "`rolling-window`" in model_settings.markdown_table()
