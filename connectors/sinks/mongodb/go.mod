module github.com/iggy-go/connectors/connectors/sinks/mongodb

go 1.26.0

require (
	github.com/iggy-go/connectors v0.0.0
	github.com/iggy-go/connectors/abi v0.0.0
	github.com/iggy-go/connectors/sdk v0.0.0
	go.mongodb.org/mongo-driver/v2 v2.10.0
)

require (
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/klauspost/cpuid/v2 v2.2.10 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	github.com/xdg-go/scram v1.4.0 // indirect
	github.com/xdg-go/stringprep v1.0.4 // indirect
	github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace (
	github.com/iggy-go/connectors => ../../..
	github.com/iggy-go/connectors/abi => ../../../abi
	github.com/iggy-go/connectors/sdk => ../../../sdk
)
