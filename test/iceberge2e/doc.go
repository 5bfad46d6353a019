// Package iceberge2e holds the end-to-end tests of the Apache Iceberg sink (issue 13), run through
// the real runtime binary: iggy-devserver and iggy-connectors are started as processes with the
// plugin libiggy_connector_iceberg_sink.so (built into a temporary directory), the catalog is
// iceberg-go's SQL catalog on a SQLite file with a local warehouse, and the tables are created and
// read back by pyiceberg (build/venv, scripts/setup.sh) — an independent reader.
//
// The tests carry the build tag integration:
//
//	go test -tags integration -count=1 -p 1 ./test/iceberge2e/
package iceberge2e
