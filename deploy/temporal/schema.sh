#!/bin/sh
# encombot — Temporal schemas on PostgreSQL (compose one-shot service `temporal-schema`, image
# temporalio/admin-tools). The documented pattern that replaces the auto-setup image:
# temporal-sql-tool create / setup-schema / update-schema for the persistence database and
# the visibility database, then the server starts (it waits for this job to succeed).
#
# Idempotent: setup-schema -v 0.0 only creates the version tables when missing, and
# update-schema applies the versioned migrations the database does not have yet, so every
# `docker compose up` runs it again, and a new admin-tools tag upgrades the schema before the
# matching server starts. Keep TEMPORAL_ADMINTOOLS_VERSION and TEMPORAL_VERSION equal.
#
# Environment: POSTGRES_SEEDS, DB_PORT (5432), SQL_USER, SQL_PASSWORD (read by temporal-sql-tool
# itself: never on a command line), DBNAME (temporal), VISIBILITY_DBNAME (temporal_visibility),
# SKIP_DB_CREATE (true: deploy/postgres/init.sql creates both databases, owned by the
# `temporal` role, which therefore needs no CREATEDB right; false: `create` them here, with a
# role that may).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${SQL_USER:?SQL_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
port=${DB_PORT:-5432}
schema_dir=/etc/temporal/schema/postgresql/v12

sql_tool() {
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$SQL_USER" "$@"
}

setup() { # database, schema folder (temporal or visibility)
	echo "schema of $1 ($2)"
	if [ "${SKIP_DB_CREATE:-true}" != true ]; then
		sql_tool --db "$1" create
	fi
	sql_tool --db "$1" setup-schema -v 0.0
	sql_tool --db "$1" update-schema -d "$schema_dir/$2/versioned"
}

setup "${DBNAME:-temporal}" temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "Temporal schemas up to date"
