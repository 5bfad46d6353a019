module github.com/iggy-go/connectors/connectors/sources/elasticsearch

go 1.26.0

require (
	github.com/iggy-go/connectors/abi v0.0.0
	github.com/iggy-go/connectors/connectors/internal/esconn v0.0.0
	github.com/iggy-go/connectors/sdk v0.0.0
)

require (
	github.com/elastic/elastic-transport-go/v8 v8.9.0 // indirect
	github.com/elastic/go-elasticsearch/v8 v8.19.7 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/iggy-go/connectors v0.0.0 // indirect
	github.com/joho/godotenv v1.5.1 // indirect
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.opentelemetry.io/otel v1.29.0 // indirect
	go.opentelemetry.io/otel/metric v1.29.0 // indirect
	go.opentelemetry.io/otel/trace v1.29.0 // indirect
)

replace (
	github.com/iggy-go/connectors => ../../..
	github.com/iggy-go/connectors/abi => ../../../abi
	github.com/iggy-go/connectors/connectors/internal/esconn => ../../internal/esconn
	github.com/iggy-go/connectors/sdk => ../../../sdk
)
