"""Erasure with the audit trail kept (crypto-shredding): `sealer` (the design,
and the Sealer that encrypts the log's personal fields), `sealed_views` (the
views' cipher), `erase` (erasing a subject, the purge), `masterkey` and
`reseal` (moving a plain log into an erasable one)."""
