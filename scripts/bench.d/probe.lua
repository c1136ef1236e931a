-- scripts/bench write probe: one connection doing single-row autocommit UPDATEs on sbtest1 every few ms and
-- logging when each one committed. The longest gap between two successful writes during the migration is the
-- write stall the application saw (at cut-over for online tools; for a native COPY ALTER, the whole copy).
--
-- Environment: BENCH_PROBE_LOG (output: "<start> <done>" per successful UPDATE, epoch seconds),
-- BENCH_PROBE_MS (pause between writes, default 5), BENCH_PROBE_ROWS (ids are drawn from 1..N),
-- BENCH_STOP_FILE (stop soon after it appears).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk_id, bench_timespec_t *tp);
int usleep(unsigned int usec);
]]
local ts = ffi.new("bench_timespec_t")
local function now()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

-- Every SQL error is survivable for the probe: it is counted and the write retried (a failed write extends
-- the gap, which is what we measure).
sysbench.hooks.sql_error_ignorable = function(err) return true end

-- sysbench insists on an event() function even though our thread_run() never calls it.
function event() end

function thread_run(thread_id)
  local drv = sysbench.sql.driver()
  local con = drv:connect()
  local pause = math.floor((tonumber(os.getenv("BENCH_PROBE_MS") or "5")) * 1000)
  local rows = tonumber(os.getenv("BENCH_PROBE_ROWS") or "1000")
  local stop = os.getenv("BENCH_STOP_FILE") or "/nonexistent"
  local log = assert(io.open(os.getenv("BENCH_PROBE_LOG") or "/tmp/bench-probe", "w"))
  local errors, last_check = {}, 0
  while true do
    local t = now()
    if t - last_check > 0.05 then
      last_check = t
      if exists(stop) then break end
    end
    local ok, err = pcall(con.query, con, "UPDATE sbtest1 SET k=k+1 WHERE id=" .. math.random(1, rows))
    if ok then
      log:write(string.format("%.6f %.6f\n", t, now()))
    else
      local key = type(err) == "table" and tostring(err.sql_errno) or "other"
      errors[key] = (errors[key] or 0) + 1
      if key == "2006" or key == "2013" or key == "other" then pcall(con.reconnect, con) end
    end
    ffi.C.usleep(pause)
  end
  for errno, n in pairs(errors) do log:write(string.format("# error %s %d\n", errno, n)) end
  log:close()
  con:disconnect()
end
