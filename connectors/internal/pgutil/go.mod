module github.com/iggy-go/connectors/connectors/internal/pgutil

go 1.26.0

require (
	github.com/iggy-go/connectors/sdk v0.0.0
	github.com/jackc/pgx/v5 v5.12.0
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/iggy-go/connectors/abi v0.0.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace (
	github.com/iggy-go/connectors/abi => ../../../abi
	github.com/iggy-go/connectors/sdk => ../../../sdk
)
