"""The session stores: `protocol` (SessionStore, FullSessionStore), `memory`
(the in-memory reference store), `eventsourced` (the store over the event log:
its writes, over the unit of work in `unit`; its `reads` and `upkeep`),
`tenancy` (a store confined to one tenant) and `cache` (the read cache)."""
