-- wrk script: POST pre-signed LINE webhook bodies, each once.
--   wrk -s benchmarks/signed.lua URL -- BODIES_FILE THREADS
-- BODIES_FILE holds one request per line: "<X-Line-Signature>\t<body>". Thread k
-- sends lines k, k + THREADS, ... so no event id is sent twice (a repeat would be
-- answered from the de-duplication check, cheaper than a new event, and flatter
-- the figure). A thread that runs out counts it in "wrapped"; the benchmark fails then.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path, total = args[1], tonumber(args[2])
  bodies = {}
  local n = 0
  for line in io.lines(path) do
    if n % total == id then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      bodies[#bodies + 1] = { sig, body }
    end
    n = n + 1
  end
  next_body = 0
  wrapped = 0
end

function request()
  next_body = next_body + 1
  if next_body > #bodies then
    next_body = 1
    wrapped = wrapped + 1
  end
  local b = bodies[next_body]
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["X-Line-Signature"] = b[1] }, b[2])
end

function done(summary, latency, requests)
  local wrapped_total = 0
  for _, t in ipairs(threads) do
    wrapped_total = wrapped_total + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, wrapped_total))
end
