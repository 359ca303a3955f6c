"""Import reads well-formed session records without cattrs
(`serde._plain_session`): on random records, valid or with one field
broken, the result is the converter's, or the same error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projections import serde

anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=5), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789+05:30",
                     "2026-13-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
                     "0001-01-01T00:00:00+01:00", "2026-01-01 00:00:00z", "not a time"]))
uuids = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: "{" + str(u).upper() + "}"),
                  st.uuids().map(lambda u: u.hex), st.just("not-a-uuid"))
messages = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=5),
     "timestamp": timestamps}, optional={"extra": anything})
MESSAGE_KEYS = ["role", "content", "timestamp"]
valid = st.fixed_dictionaries(
    {"id": uuids, "created_at": timestamps, "messages": st.lists(messages, max_size=3)},
    optional={"title": st.one_of(st.none(), st.text(max_size=5)),
              "user_id": st.one_of(st.none(), st.text(max_size=3)),
              "tenant_id": st.one_of(st.none(), st.text(max_size=3)),
              "unknown": anything})
TOP_KEYS = ["id", "created_at", "messages", "title", "user_id", "tenant_id"]


@st.composite
def records(draw):
    """A valid record, or one with a field (or a message's field) replaced,
    removed, or given another role."""
    record = draw(valid)
    how = draw(st.sampled_from(["as is", "replace", "remove", "message"]))
    if how in ("replace", "remove"):
        key = draw(st.sampled_from(TOP_KEYS))
        if how == "remove":
            record.pop(key, None)
        else:
            record[key] = draw(anything)
    elif how == "message" and record["messages"]:
        i = draw(st.integers(0, len(record["messages"]) - 1))
        if draw(st.booleans()):
            record["messages"][i] = draw(anything)
        else:
            record["messages"][i][draw(st.sampled_from(MESSAGE_KEYS))] = draw(
                st.one_of(anything, st.sampled_from(["system", "USER", "tool"])))
    return record


def slow(record):
    """session_from_dict without the plain path."""
    real = serde._plain_session
    serde._plain_session = lambda data: None
    try:
        return serde.session_from_dict(record)
    finally:
        serde._plain_session = real


def outcome(fn, record):
    try:
        return "ok", fn(record)
    except ValueError as e:
        return "error", str(e)


@settings(max_examples=800, deadline=None)
@given(records())
def test_the_plain_path_reads_what_the_converter_reads(record):
    assert outcome(serde.session_from_dict, record) == outcome(slow, record)


@given(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                       "content": st.text(max_size=20),
                                       "timestamp": st.just("2026-01-01T00:00:00.5+02:00")}),
                max_size=4), st.uuids())
def test_well_formed_records_take_the_plain_path(messages, sid):
    record = {"id": str(sid), "created_at": "2026-01-01T00:00:00Z", "messages": messages}
    assert serde._plain_session(record) is not None
    assert serde._plain_session(record) == slow(record)
