# Elasticsearch and OpenSearch connectors (issue 12): a real Elasticsearch 8.19.21 node and a real
# OpenSearch 3.8.0 node (scripts/elasticsearch.sh; each about 800 MB RSS), both started in the
# background while the build runs, then the sink's and the source's integration tests against both
# and the end-to-end tests through the runtime binary (kill -9, a 10-second outage, dead letters).
service search-servers \
  'scripts/elasticsearch.sh start elasticsearch & es=$!; scripts/elasticsearch.sh start opensearch && wait $es' \
  'scripts/elasticsearch.sh stop elasticsearch; scripts/elasticsearch.sh stop opensearch'
suite 'integration: Elasticsearch/OpenSearch sink and source' search-servers \
  'cd connectors/sinks/elasticsearch && go test -count=1 -p 1 -tags integration -timeout 25m ./... && cd ../../sources/elasticsearch && go test -count=1 -p 1 -tags integration ./...'
