"""The write path's direct encoders give the very bytes of the reference
ones (cattrs + canonical dumps, `codec.chain_hash`, `format_sortable`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import events, texts, timestamps

from eventlog import encode_event, lean
from eventlog.codec import chain_hash, dumps, format_sortable, json_string
from eventlog.events import EVENT_TYPES


@given(events)
def test_lean_encoding_is_byte_identical_to_cattrs(event):
    name, data, text = lean.encode(event)
    ref_name, ref_data = encode_event(event)
    assert (name, data) == (ref_name, ref_data)
    assert text == dumps(ref_data)


def test_every_event_type_has_a_generated_encoder():
    """No event class silently falls back to the slow reference encoder."""
    for cls in EVENT_TYPES.values():
        assert lean.make_encoder(cls) is not lean._reference, cls.__name__


def test_a_non_event_is_refused():
    with pytest.raises(TypeError):
        lean.encode(object())


uuid_texts = st.uuids().map(str)


@given(st.text(st.characters(codec="ascii", categories=("Nd", "Ll")), min_size=64, max_size=64),
       st.integers(1, 2**62), uuid_texts, texts, st.integers(1, 2**40),
       st.sampled_from(sorted(EVENT_TYPES)), texts, texts, timestamps)
def test_lean_chain_hash_equals_the_reference(prev, pos, eid, stream, version, type_name, data,
                                              meta, moment):
    at = format_sortable(moment)
    assert lean.chain_hash(prev, pos, eid, json_string(stream), version, json_string(type_name), data,
                           json_string(meta), at) == chain_hash(
        prev, pos, eid, stream, version, type_name, 1, data, meta, at)


def test_lean_chain_hash_refuses_lone_surrogates():
    with pytest.raises(ValueError, match="surrogate"):
        lean.chain_hash("0" * 64, 1, str(uuid.uuid4()), '"s"', 1, '"t"', "\ud800", '"{}"',
                        "2026-01-01T00:00:00.000000Z")


@given(st.integers(0, 253402300799 * 10**9))
def test_clock_text_is_format_sortable_of_its_datetime(ns):
    text, moment = lean.Clock().at(ns)
    assert text == format_sortable(moment)
    assert moment == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


@given(timestamps)
def test_cached_sortable_equals_format_sortable(moment):
    assert lean.sortable(moment) == format_sortable(moment)


@given(st.integers(0, 2**128 - 1))
def test_uuid_text_is_str_of_the_uuid(value):
    assert lean.uuid_text(value) == str(uuid.UUID(int=value))
