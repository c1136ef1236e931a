-- scripts/bench load: sysbench's stock oltp_write_only transactions, driven by our own event loop so that
-- every transaction's latency is logged (sysbench itself reports one percentile per run, not per window).
--
-- Environment (set by scripts/bench):
--   BENCH_LUA_DIR    where sysbench's own scripts live (default /usr/share/sysbench)
--   BENCH_RATE       total transactions/s over all threads; 0 = as fast as possible (closed loop)
--   BENCH_LOG        per-thread log prefix: <prefix>.<thread id>, lines
--                    "<scheduled start> <latency from it> <retries> <service time from the actual start>"
--                    (seconds since the epoch, CLOCK_REALTIME, so they line up with the migration's window)
--   BENCH_STOP_FILE  the loop ends (and logs are closed) soon after this file appears; if it holds an epoch
--                    time, a rate-driven thread first runs every transaction scheduled before that time
--
-- With a rate, the loop is open: each thread has a fixed schedule and a transaction's latency counts from
-- its scheduled start, not from when a stalled thread got round to it (no "coordinated omission": a 5 s
-- stall shows as 5 s, 4.99 s, ... for the transactions queued behind it, as users would see it).
local dir = os.getenv("BENCH_LUA_DIR") or "/usr/share/sysbench"
package.path = dir .. "/?.lua;" .. package.path
dofile(dir .. "/oltp_write_only.lua")

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk_id, bench_timespec_t *tp);
int usleep(unsigned int usec);
]]
local ts = ffi.new("bench_timespec_t")
local function now()
  ffi.C.clock_gettime(0, ts)  -- CLOCK_REALTIME
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

function thread_run(thread_id)
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  local stop = os.getenv("BENCH_STOP_FILE") or "/nonexistent"
  local log = assert(io.open((os.getenv("BENCH_LOG") or "/tmp/bench-lat") .. "." .. thread_id, "w"))
  local threads = sysbench.opt.threads
  local interval = rate > 0 and threads / rate or 0
  local next_start = now() + interval * thread_id / threads   -- stagger the threads' schedules
  local last_check = 0
  local errors = {}
  while ffi.C.sb_more_events(thread_id) do
    local t = now()
    if t - last_check > 0.1 then
      last_check = t
      if exists(stop) then
        -- The file may hold a time: with a rate, go on until every transaction scheduled before it has run,
        -- so that the backlog a stall left is measured, not dropped.
        local f = io.open(stop, "r")
        local drain_until = f and tonumber(f:read("*l") or "")
        if f then f:close() end
        if interval == 0 or not drain_until or next_start >= drain_until then break end
      end
    end
    local start, began
    if interval > 0 then
      if next_start > t then ffi.C.usleep(math.floor((next_start - t) * 1e6)) end
      start = next_start
      next_start = next_start + interval
    else
      start = t
    end
    began = now()
    ffi.C.sb_event_start(thread_id)
    local retries = 0
    local ok, ret
    repeat
      ok, ret = pcall(event, thread_id)
      if not ok then
        if type(ret) == "table" and ret.errcode == sysbench.error.RESTART_EVENT then
          -- an SQL error (--mysql-ignore-errors=all): count it, then redo the whole transaction as sysbench does
          retries = retries + 1
          local key = tostring(ret.sql_errno)
          errors[key] = (errors[key] or 0) + 1
          if sysbench.hooks.before_restart_event then sysbench.hooks.before_restart_event(ret) end
        else
          error(ret, 2)
        end
      end
    until ok
    ffi.C.sb_event_stop(thread_id)
    local done = now()
    log:write(string.format("%.6f %.6f %d %.6f\n", start, done - start, retries, done - began))
  end
  for errno, n in pairs(errors) do log:write(string.format("# error %s %d\n", errno, n)) end
  log:close()
end
