# Apache Iceberg sink: REST catalog (Apache Iceberg's RESTCatalogServer) + S3 (moto) in the background;
# the sink's suites run against SQL catalog + local files and against REST + S3.
service iceberg 'scripts/iceberg-rest.sh start' 'scripts/iceberg-rest.sh stop'
suite 'integration: iceberg sink (SQL+files, REST+S3)' iceberg 'cd connectors/sinks/iceberg && go test -count=1 -p 1 -tags integration ./...'
suite 'e2e: iceberg sink kill -9 through the runtime' iceberg 'go test -count=1 -p 1 -tags integration -timeout 20m ./test/iceberge2e/...'
