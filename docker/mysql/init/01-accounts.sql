-- Accounts and grants of scripts/sandbox (see README "Privileges"), run by the image's entrypoint on first
-- start of each server. '%' because connections come through Docker's network, not from 127.0.0.1.
-- sql_log_bin = 0: each server gets its own accounts; they must not replicate and clash.
SET sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'wraith'@'%' IDENTIFIED BY 'wraith-sandbox-pw';
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'wraith-repl-pw';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
-- What a DBA grants the migration account:
GRANT ALTER, CREATE, DELETE, DROP, INDEX, INSERT, LOCK TABLES, SELECT, TRIGGER, UPDATE, EVENT, REFERENCES,
      CREATE VIEW, SHOW VIEW, PROCESS, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE
   ON *.* TO 'wraith'@'%';
-- Stop/start replication (test-on-replica), kill connections, bypass read_only on the replica, and
-- SET GLOBAL for the test harness (event scheduler, sql_mode).
GRANT REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN, SYSTEM_VARIABLES_ADMIN, SESSION_VARIABLES_ADMIN
   ON *.* TO 'wraith'@'%';
