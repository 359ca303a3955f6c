"""Event encoding and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    EVENT_STRATEGIES,
    events,
    timestamps,
)

from eventlog import (
    EventDecodeError,
    decode_event,
    encode_event,
    format_timestamp,
    parse_timestamp,
)
from eventlog.codec import dumps


def test_every_event_type_has_a_strategy():
    from hypothesis import find

    from eventlog.events import EVENT_TYPES
    covered = {type(find(s, lambda _: True)).__name__ for s in EVENT_STRATEGIES}
    assert covered == set(EVENT_TYPES)


@pytest.mark.parametrize("strategy", EVENT_STRATEGIES)
def test_every_event_type_round_trips(strategy):
    @given(strategy)
    def check(event):
        type_name, data = encode_event(event)
        assert type_name == type(event).__name__
        # Through JSON text, as stored.
        import json
        assert decode_event(type_name, json.loads(dumps(data))) == event

    check()


@given(timestamps)
def test_timestamp_text_round_trips(moment):
    assert parse_timestamp(format_timestamp(moment)) == moment


@pytest.mark.parametrize("micro, text", [
    (0, "2026-01-01T00:00:00Z"),
    (120000, "2026-01-01T00:00:00.120Z"),
    (123456, "2026-01-01T00:00:00.123456Z"),
    (1000, "2026-01-01T00:00:00.001Z"),
])
def test_timestamps_are_written_as_chrono_does(micro, text):
    assert format_timestamp(datetime(2026, 1, 1, microsecond=micro, tzinfo=UTC)) == text


def test_timestamps_with_offsets_and_nanoseconds_are_read():
    moment = parse_timestamp("2026-01-01T02:00:00.123456789+02:00")
    assert moment == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert moment.tzinfo is UTC
    east = datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    assert parse_timestamp(format_timestamp(east)) == east


@pytest.mark.parametrize("text", [
    "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00.1234567890Z",
    "yesterday", "2026-01-01T00:00:00+24:00",
])
def test_bad_timestamps_are_refused(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_decode_names_the_bad_field():
    with pytest.raises(EventDecodeError, match="role"):
        decode_event("MessageAdded", {"session_id": "00000000-0000-0000-0000-000000000000",
                                      "role": "system", "content": "x",
                                      "timestamp": "2026-01-01T00:00:00Z"})
    with pytest.raises(EventDecodeError, match="unknown event type"):
        decode_event("Nope", {})


def test_version_zero_message_is_upcast():
    event = decode_event("MessageAdded", {"session_id": "00000000-0000-0000-0000-000000000000",
                                          "role": "user", "text": "old",
                                          "timestamp": "2026-01-01T00:00:00Z"}, 0)
    assert event.content == "old"


def test_naive_datetimes_are_refused_at_construction():
    import uuid

    from eventlog import SessionCreated
    with pytest.raises(ValueError, match="timezone-aware"):
        SessionCreated(uuid.uuid4(), None, datetime(2026, 1, 1))


@given(events)
def test_encoding_is_canonical(event):
    _, data = encode_event(event)
    assert dumps(data) == dumps(dict(reversed(list(data.items()))))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_fast_dumps_is_byte_identical_to_json_dumps(value):
    import json
    assert dumps(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                      ensure_ascii=False)


def test_fields_added_in_v2_are_left_out_when_none_so_v1_events_keep_their_bytes():
    import uuid

    from eventlog import ItemAdded, SessionCreated
    at = datetime(2026, 1, 1, tzinfo=UTC)
    v1 = ('{"created_at":"2026-01-01T00:00:00.000000Z",'
          '"session_id":"00000000-0000-0000-0000-000000000001","tenant_id":null,"title":"t",'
          '"user_id":null}')
    assert dumps(encode_event(SessionCreated(uuid.UUID(int=1), "t", at))[1]) == v1
    keyed = encode_event(SessionCreated(uuid.UUID(int=1), "t", at, key="k"))[1]
    assert keyed["key"] == "k"
    assert "text" not in encode_event(ItemAdded(uuid.UUID(int=1), "i", "tool", {}, at))[1]
