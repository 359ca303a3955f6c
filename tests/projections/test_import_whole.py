"""The library reads what the CLI reads: `read_records` drops a BOM,
`open_text` gunzips by magic bytes, and `import_sessions` records a session
got from a store whole (items, state, key), on every backend."""

from __future__ import annotations

import gzip
import io
import json

from projections import NewItem
from projections.transfer import import_sessions, open_text, read_records, read_sessions
from projections.transfer_format import record_to_json

RECORD = {"id": "00000000-0000-0000-0000-000000000003", "created_at": "2026-01-01T00:00:00Z",
          "messages": []}


def test_read_records_drops_a_leading_bom():
    text = "\ufeff" + json.dumps(RECORD) + "\n"
    assert [v for _, v in read_records(io.StringIO(text), "f")] == [RECORD]


def test_open_text_reads_gzip_by_its_magic_bytes_and_plain_bytes_as_they_are():
    data = ("\ufeff" + json.dumps(RECORD)).encode("utf-8")
    for raw in (data, gzip.compress(data)):
        assert [v for _, v in read_records(open_text(io.BytesIO(raw)), "f")] == [RECORD]


def test_a_stored_session_imports_whole_into_an_empty_store(open_store, fresh_store):
    source = open_store()
    s = source.create_session("t", user_id="u", tenant_id="acme", key="k", state={"a": [1]})
    source.add_items(s.id, [NewItem("system", {"content": "be kind"}, "be kind"),
                            NewItem("user", {"role": "user", "content": "hi"}, "hi")],
                     state_delta={"b": True})
    stored = source.get(s.id)
    target = fresh_store()
    summary = import_sessions(target, [("x", stored)])
    assert (summary.sessions, summary.messages, summary.items) == (1, 1, 1)
    got = target.get(s.id)
    assert (got.items, got.state, got.key, got.messages) == (
        stored.items, stored.state, stored.key, stored.messages)
    again = import_sessions(target, read_sessions(io.StringIO(record_to_json(stored)), "f"))
    assert again.skipped == 1
