module github.com/iggy-go/connectors/connectors/sinks/quickwit

go 1.26.0

require (
	github.com/iggy-go/connectors/sdk v0.0.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/iggy-go/connectors/abi v0.0.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
)

replace (
	github.com/iggy-go/connectors => ../../..
	github.com/iggy-go/connectors/abi => ../../../abi
	github.com/iggy-go/connectors/sdk => ../../../sdk
)
