"""The built-in projections, each with its readers: `sessions` (sessions,
items and state; `session_reads` builds sessions from its rows), `tenants`
(the tenant index) and `search` (full text; `fulltext` for SQLite FTS5,
`pgsearch` for PostgreSQL)."""
