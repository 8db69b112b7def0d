#!/bin/sh
# Creates or upgrades Temporal's two databases (persistence and visibility) with the schemas
# shipped inside temporalio/admin-tools. Safe to run on every start: `setup-schema -v 0.0`
# leaves a versioned schema alone and `update-schema` applies only newer versions.
set -eu

sql() {
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "$DB_PORT" --user "$POSTGRES_USER" "$@"
}

until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
  sleep 1
done

for store in temporal:temporal visibility:temporal_visibility; do
  schema=${store%%:*}
  database=${store#*:}
  # Fails when the database exists already (a restart); the schema steps below fail loudly on a real error.
  sql --database "$database" create-database || echo "database $database exists"
  sql --database "$database" setup-schema -v 0.0
  sql --database "$database" update-schema --schema-name "postgresql/v12/$schema"
done
echo "Temporal schemas are up to date"
