//! Every default, once. gh-ost's values unless a line says otherwise; clap's attributes (`cli`) and the
//! `Default` impls (`config`) both read these, so the flag help and a library `Config` cannot disagree.
//! Integer types are the flags' own (clap parses into them before gh-ost's clamps apply).

pub const CHUNK_SIZE: i64 = 1000;
/// wraith's default (gh-ost: 10): de-duplicated multi-row writes make large batches cheap.
pub const DML_BATCH_SIZE: i64 = 1000;
/// wraith only: parallel copy connections for integer keys.
pub const COPY_WORKERS: i64 = 4;
pub const DEFAULT_RETRIES: i64 = 60;
pub const HEARTBEAT_INTERVAL_MILLIS: i64 = 100;
pub const MAX_LAG_MILLIS: i64 = 1500;
pub const THROTTLE_ADDITIONAL_FLAG_FILE: &str = "/tmp/gh-ost.throttle";
pub const CUT_OVER_LOCK_TIMEOUT_SECONDS: i64 = 3;
pub const EXPONENTIAL_BACKOFF_MAX_INTERVAL: i64 = 64;
pub const CHECKPOINT_SECONDS: i64 = 300;
/// wraith's own: the verification before the cut-over.
pub const CHECKSUM_MAX_REPAIRS: u32 = 3;
pub const CHECKSUM_INTERVAL: &str = "10m";
pub const CHECKSUM_CONNECTIONS: usize = 4;
pub const HOOKS_STATUS_INTERVAL: i64 = 60;
pub const STATUS_INTERVAL_SECONDS: u64 = 5;
/// wraith only: zero keeps --chunk-size fixed. This is the library `Config`'s default and what the command
/// line has when --chunk-size is given; without --chunk-size the command line sizes chunks by time
/// (`CHUNK_TIME_MILLIS_UNLESS_SIZED`).
pub const CHUNK_TIME_SECONDS: u64 = 0;
/// wraith only: the chunk-time target when neither --chunk-size nor --chunk-time is given (command line or
/// config file).
pub const CHUNK_TIME_MILLIS_UNLESS_SIZED: u64 = 100;
/// wraith only: the latency pacer holds the heartbeat's commit latency within this many times its value
/// before the copy (0: off), while the application writes. At 150 tx/s it cut the application's p95
/// during the copy from 81x to 12x its baseline for 4% more copy time (docs/performance.md).
pub const MAX_LATENCY_RATIO: f64 = 2.0;
/// wraith only: the least copy level the latency pacer goes down to, in workers (0.25: one worker copying a
/// quarter of the time). Above 0, so the copy always moves and a migration always ends.
pub const PACER_MIN_LEVEL: f64 = 0.25;
/// Connection and read timeout when --mysql-timeout is 0 (unset).
pub const MYSQL_TIMEOUT_SECONDS: i64 = 10;
pub const REPLICA_SERVER_ID: u32 = 99999;
pub const PORT: u16 = 3306;
pub const HOST: &str = "127.0.0.1";
pub const STORAGE_ENGINE: &str = "innodb";
pub const CUT_OVER: &str = "atomic";
/// wraith only: the address --serve-tcp-port listens on. Loopback, because the commands can abort a
/// migration: any other address needs --serve-tcp-token-file.
pub const SERVE_TCP_BIND: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
