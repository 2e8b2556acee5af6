#!/bin/sh
# The role the glassbox services connect as (docker compose). The postgres
# image runs this once, when it initialises an empty data volume, as its
# superuser over the local socket; compose mounts it into
# /docker-entrypoint-initdb.d. The superuser is for this setup only: its
# password is in a file that no service can read.
#
# The services' role may do what their own migrations and queries need, in the
# one database: CREATE TABLE IF NOT EXISTS in the public schema (PostgreSQL 15
# no longer lets every role create there), then read and write its own
# tables. No superuser (which can run programs on the server: COPY ... TO
# PROGRAM), no CREATEDB, no CREATEROLE.
#
# The password never appears on a command line or in an environment: psql
# reads it from the file compose's `setup` wrote (\set with backquotes), and
# the server is told not to log the statement that carries it, even on error.
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set password `cat /run/secrets/postgres/glassbox-password`
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
CREATE ROLE glassbox LOGIN PASSWORD :'password';
RESET log_min_error_statement;
GRANT CONNECT, TEMPORARY ON DATABASE glassbox TO glassbox;
GRANT USAGE, CREATE ON SCHEMA public TO glassbox;
SQL
