-- What kvdb.lua and etcd.lua share: the arguments, the key choice, counting bad replies, and the report.
-- A script is run as `wrk -s kvdb.lua URL -- OPERATION VALUE_BYTES KEYS SEED`; each wrk thread loads it anew.

local threads = {}
local counter = 0

-- Each thread gets its own id, so that threads (and wrk processes, through SEED) draw different key sequences.
function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  table.insert(threads, thread)
end

thread_id = 0
bad = 0

-- Reads `-- OPERATION VALUE_BYTES KEYS SEED`; returns them, after seeding this thread's key choice.
function parse_args(args)
  local operation, size, keys, seed = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  if (operation ~= "set" and operation ~= "get") or not size or not keys or not seed then
    error("expected arguments: set|get VALUE_BYTES KEYS SEED")
  end
  math.randomseed(seed * 1000 + thread_id)
  return operation, size, keys
end

-- A key index drawn uniformly from 0 to keys - 1.
function pick(keys)
  return math.random(0, keys - 1)
end

-- A reply counts as bad unless its status is 2xx, its body carries no "error" member (kvdb answers JSON-RPC errors
-- with status 200) and the script's `answered(body)` holds (a get found its key). Values are runs of "x" (base64
-- for etcd), so they never hold the text looked for themselves.
function response(status, headers, body)
  if status < 200 or status > 299 or string.find(body, '"error"', 1, true) or not answered(body) then
    bad = bad + 1
  end
end

-- One JSON line for compare-etcd.mjs, after wrk's own report.
function done(summary, latency, requests)
  local bad_replies = 0
  for _, thread in ipairs(threads) do
    bad_replies = bad_replies + (thread:get("bad") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
      '"bad":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    bad_replies, latency:percentile(50), latency:percentile(99), latency.max))
end
