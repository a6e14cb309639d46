-- encombot — PostgreSQL initialisation (production stack, docker-compose.yml).
--
-- Mounted into /docker-entrypoint-initdb.d/ of the postgres:16 image, which runs it once, as the
-- superuser, when the data volume is empty. It creates:
--   * role `temporal`, owner of the databases `temporal` (persistence) and `temporal_visibility`
--     (SQL visibility: search attributes, list filters). The `temporal` service runs with
--     SKIP_DB_CREATE=true: it only applies its schemas to these databases.
--   * role `encombot`, owner of the database `encombot` (bookings; the workers create their
--     tables at start).
-- Each role can connect to its own databases only.
--
-- Passwords are read from the container environment (psql \getenv), never written here:
-- TEMPORAL_DB_PASSWORD and ENCOMBOT_DB_PASSWORD, set by docker-compose.yml from .env.
-- Changing them later in .env does not change them here (this script never runs again): use
-- ALTER ROLE … PASSWORD … as well.

\set ON_ERROR_STOP on

\getenv temporal_password TEMPORAL_DB_PASSWORD
\getenv encombot_password ENCOMBOT_DB_PASSWORD
\if :{?temporal_password}
\else
\set temporal_password ''
\endif
\if :{?encombot_password}
\else
\set encombot_password ''
\endif

SELECT (:'temporal_password' = '' OR :'encombot_password' = '') AS missing_password \gset
\if :missing_password
DO $$
BEGIN
    RAISE EXCEPTION 'init.sql: TEMPORAL_DB_PASSWORD and ENCOMBOT_DB_PASSWORD must be set (non-empty) in the postgresql container';
END
$$;
\endif

-- Temporal ------------------------------------------------------------------------------------
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- encombot bookings ---------------------------------------------------------------------------
CREATE ROLE encombot LOGIN PASSWORD :'encombot_password';
CREATE DATABASE encombot OWNER encombot;

-- No role connects to another's databases (owners keep their own rights).
REVOKE CONNECT, TEMPORARY ON DATABASE temporal, temporal_visibility, encombot FROM PUBLIC;

-- Temporal's SQL visibility schema (postgres12) needs btree_gin for its GIN indexes; installing
-- it here, as the superuser, keeps the `temporal` role unprivileged.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
