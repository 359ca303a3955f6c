"""The public seams between the store's layers (issue #18): what
`TenantSessionStore`, erasure and verify ask of a store and its runner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from eventlog import SessionCreated
from projections import InMemorySessionStore
from projections.stores.protocol import FullSessionStore, TenantedSessionStore


def test_tenant_of_names_the_tenant_of_a_live_session_only(store):
    """A live session's tenant; None when untenanted, deleted or unknown."""
    mine = store.create_session("a", tenant_id="acme")
    plain = store.create_session("b")
    assert store.tenant_of(mine.id) == "acme"
    assert store.tenant_of(str(mine.id)) == "acme"
    assert store.tenant_of(plain.id) is None
    assert store.tenant_of(uuid.uuid4()) is None
    store.delete(mine.id)
    assert store.tenant_of(mine.id) is None


def test_every_store_has_the_whole_common_surface(store):
    """Each store (and a tenant's view of it) is a FullSessionStore."""
    assert isinstance(store, TenantedSessionStore)
    assert isinstance(store.for_tenant("acme"), FullSessionStore)


def test_create_and_create_with_user_are_aliases_of_create_session(store):
    """The seed's two ways to create give what create_session gives."""
    a = store.create("t")
    b = store.create_with_user("t", "ann", "acme")
    assert (a.title, a.user_id, a.tenant_id, a.version) == ("t", None, None, 1)
    assert (b.title, b.user_id, b.tenant_id, b.version) == ("t", "ann", "acme", 1)
    with pytest.raises(ValueError, match="user_id"):
        store.create_with_user("t", None, "acme")


def test_created_for_reads_the_tenant_of_a_deleted_session_too(open_store):
    """The tenant a session was created for outlives its deletion."""
    with open_store() as store:
        gone = store.create_session("x", user_id="ann", tenant_id="acme")
        store.delete(gone.id)
        assert store.created_for(gone.id) == "acme"
        assert store.created_for(store.create("plain").id) is None
        assert store.created_for(uuid.uuid4()) is None


def test_the_runner_says_its_views_are_ready_and_carries_the_cipher(open_store):
    """`ready` after opening; the cipher is the runner's (on each Db), not the dialect's."""
    with open_store() as store:
        runner = store.runner
        with runner.snapshot() as db:
            assert all(runner.ready(db, p) for p in runner.projections.values())
            assert db.cipher is runner.cipher
        assert not hasattr(runner.dialect, "cipher")
        assert (runner.cipher is not None) == (store.log.sealer is not None)


def test_a_bulk_write_hands_out_its_transaction(open_store):
    """What the caller writes through `bulk.db` commits with the appends."""
    with open_store() as store:
        sid = uuid.uuid4()
        with store.bulk() as bulk:
            bulk.commit([(str(sid), [SessionCreated(sid, "t", datetime.now(UTC))], 0)])
            assert bulk.db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
            assert bulk.existing([str(sid), str(uuid.uuid4())]) == {str(sid)}
        assert store.get(sid).title == "t"


def test_the_in_memory_store_keeps_no_history_for_a_tenant():
    """A tenant's view of a store without a log has no history, as the store has none."""
    with pytest.raises(AttributeError, match="history"):
        InMemorySessionStore().for_tenant("acme").history(uuid.uuid4())
