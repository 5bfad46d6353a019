# Apache Iceberg sink: REST catalog (Apache Iceberg's RESTCatalogServer) + S3 (moto) in the background;
# the sink's suites run against SQL catalog + local files and against REST + S3.
service iceberg 'scripts/iceberg-rest.sh start' 'scripts/iceberg-rest.sh stop'
suite 'integration: iceberg sink (SQL+files, REST+S3)' iceberg 'cd connectors/sinks/iceberg && go test -count=1 -p 1 -tags integration ./...'
# test/iceberge2e (kill -9 through the runtime, SQL catalog + local files) runs in the built-in
# "integration: runtime packages and end-to-end suites" step with the other ./test/... suites.
