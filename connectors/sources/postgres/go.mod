module github.com/iggy-go/connectors/connectors/sources/postgres

go 1.26.0

require (
	github.com/iggy-go/connectors v0.0.0
	github.com/iggy-go/connectors/abi v0.0.0
	github.com/iggy-go/connectors/connectors/internal/pgutil v0.0.0
	github.com/iggy-go/connectors/sdk v0.0.0
	github.com/jackc/pglogrepl v0.0.0-20251213150135-2e8d0df862c1
	github.com/jackc/pgx/v5 v5.12.0
)

require (
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/jackc/pgio v1.0.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/cpuid/v2 v2.2.10 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace (
	github.com/iggy-go/connectors => ../../..
	github.com/iggy-go/connectors/abi => ../../../abi
	github.com/iggy-go/connectors/connectors/internal/pgutil => ../../internal/pgutil
	github.com/iggy-go/connectors/sdk => ../../../sdk
)
